"""Pricing and commission analytics over stored quotes, and over the accepted ones separately.

Sums are taken in the database over integer minor units, per currency (amounts in different
currencies are never added); days are the tenant's local dates, regions the delivery cities.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.auth.core import Principal
from offerengine.commerce.models import QuoteLine, StoredQuote
from offerengine.errors import Invalid, NotFound
from offerengine.tenants import service as tenants


class Row(BaseModel):
    key: str | None = Field(description="The group (a day, city, category, seller …); null: unset.")
    currency: str
    quotes: int
    measures: dict[str, str] = Field(
        description="Decimal strings: amounts in the currency; `average_commission_rate` in percent."
    )


class Report(BaseModel):
    group_by: str
    from_: datetime | None = Field(alias="from")
    to: datetime | None
    quoted: list[Row] = Field(description="Every stored quote (accepted ones included).")
    accepted: list[Row] = Field(description="Accepted quotes only.")


async def tenant_of(session: AsyncSession, principal: Principal, ref: str | None) -> uuid.UUID:
    """The tenant reported on: a tenant key's own, or the one a platform key names."""
    if principal.is_platform:
        if ref is None:
            raise Invalid.field(("query", "tenant"), "a platform key names the tenant")
        found = await tenants.find(session, ref)
        if found is None:
            raise NotFound(f"No tenant {ref!r}.")
        return found.id
    assert principal.tenant_id is not None
    if ref is not None:
        found = await tenants.find(session, ref)
        if found is None or found.id != principal.tenant_id:
            raise NotFound(f"No tenant {ref!r}.")
    return principal.tenant_id


QUOTE_MEASURES = {
    "item_total": StoredQuote.item_total,
    "discount_amount": StoredQuote.discount,
    "tax_amount": StoredQuote.tax,
    "delivery_fee": StoredQuote.delivery_fee,
    "small_basket_fee": StoredQuote.small_basket_fee,
    "total_amount": StoredQuote.total,
    "commission": StoredQuote.commission,
}
LINE_MEASURES = {
    "item_total": QuoteLine.value,
    "subtotal": QuoteLine.net,
    "tax_amount": QuoteLine.tax,
    "seller_commission": QuoteLine.seller_commission,
    "category_commission": QuoteLine.category_commission,
    "logistics_commission": QuoteLine.logistics_commission,
}
COMMISSION_KEYS = {
    "seller": QuoteLine.seller_id,
    "category": QuoteLine.category,
    "logistics": QuoteLine.logistics_provider,
    "region": StoredQuote.city,
    "day": StoredQuote.day,
}


def _window(stmt: Any, tenant_id: uuid.UUID, since: datetime | None, until: datetime | None) -> Any:
    stmt = stmt.where(StoredQuote.tenant_id == tenant_id)
    if since is not None:
        stmt = stmt.where(StoredQuote.created_at >= since)
    if until is not None:
        stmt = stmt.where(StoredQuote.created_at < until)
    return stmt


Finish = Callable[[dict[str, Decimal], int, str], dict[str, Decimal]]


async def _report(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    group_by: str,
    group: Any,
    source: Any,
    measures: dict[str, Any],
    finish: Finish,
    since: datetime | None,
    until: datetime | None,
) -> Report:
    """``source`` (selecting the group, the currency and a count of quotes) with the sums of
    ``measures``, grouped, over every stored quote and over the accepted ones; ``finish`` adds
    the measures derived from the sums."""
    stmt = (
        _window(
            source.add_columns(*(sa.func.sum(c) for c in measures.values())),
            tenant_id,
            since,
            until,
        )
        .group_by(group, StoredQuote.currency)
        .order_by(group, StoredQuote.currency)
    )
    found: dict[str, list[Row]] = {"quoted": [], "accepted": []}
    for which, rows in found.items():
        query = stmt if which == "quoted" else stmt.where(StoredQuote.status == "ACCEPTED")
        for row in await session.execute(query):
            key, currency, quotes, *sums = row
            amounts = {
                name: money.from_minor(int(total or 0), currency)
                for name, total in zip(measures, sums, strict=True)
            }
            rows.append(
                Row(
                    key=None if key is None else str(key),
                    currency=currency,
                    quotes=int(quotes),
                    measures={k: str(v) for k, v in finish(amounts, int(quotes), currency).items()},
                )
            )
    return Report.model_validate({"group_by": group_by, "from": since, "to": until, **found})


async def pricing(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    group_by: Literal["day", "region", "category"],
    since: datetime | None,
    until: datetime | None,
) -> Report:
    if group_by == "category":
        measures = LINE_MEASURES
        group: Any = QuoteLine.category
        source = sa.select(
            group, StoredQuote.currency, sa.func.count(sa.distinct(QuoteLine.quote_id))
        ).join(StoredQuote, StoredQuote.id == QuoteLine.quote_id)
    else:
        measures = QUOTE_MEASURES
        group = StoredQuote.day if group_by == "day" else StoredQuote.city
        source = sa.select(group, StoredQuote.currency, sa.func.count())

    def finish(amounts: dict[str, Decimal], quotes: int, currency: str) -> dict[str, Decimal]:
        if "total_amount" in amounts and quotes:
            amounts["subtotal"] = amounts["item_total"] - amounts["discount_amount"]
            amounts["average_total"] = money.quantize(amounts["total_amount"] / quotes, currency)
        if "subtotal" in amounts and "discount_amount" not in amounts:
            amounts["discount_amount"] = amounts["item_total"] - amounts["subtotal"]
        return amounts

    return await _report(
        session,
        tenant_id=tenant_id,
        group_by=group_by,
        group=group,
        source=source,
        measures=measures,
        finish=finish,
        since=since,
        until=until,
    )


async def commission(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    group_by: Literal["seller", "category", "logistics", "region", "day"],
    since: datetime | None,
    until: datetime | None,
) -> Report:
    group = COMMISSION_KEYS[group_by]
    measures = {
        "item_value": QuoteLine.value,
        "seller_commission": QuoteLine.seller_commission,
        "category_commission": QuoteLine.category_commission,
        "logistics_commission": QuoteLine.logistics_commission,
    }

    def finish(amounts: dict[str, Decimal], quotes: int, currency: str) -> dict[str, Decimal]:
        total = (
            amounts["seller_commission"]
            + amounts["category_commission"]
            + amounts["logistics_commission"]
        )
        amounts["total_commission"] = total
        value = amounts["item_value"]
        amounts["average_commission_rate"] = (
            (total * 100 / value).quantize(Decimal("0.0001")) if value else Decimal(0)
        )
        return amounts

    return await _report(
        session,
        tenant_id=tenant_id,
        group_by=group_by,
        group=group,
        source=sa.select(
            group, StoredQuote.currency, sa.func.count(sa.distinct(QuoteLine.quote_id))
        ).join(StoredQuote, StoredQuote.id == QuoteLine.quote_id),
        measures=measures,
        finish=finish,
        since=since,
        until=until,
    )
