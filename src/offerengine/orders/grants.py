"""Personal coupons on orders: a campaign's grant an offer applied is redeemed by the order made
from it, in the order's own transaction, and given back when the order is cancelled or expires.

1. The order's price is the offer's without its coupons (:func:`~offerengine.shopping.core._grants.without`),
   for the items the order keeps; each grant the offer applied is applied again to those items
   on its terms as they are now (read in this transaction), by the same function the search used
   (its minimum spend is checked against what the order keeps: leaving optional items out
   below it is a 422 naming ``selected_optional_items``).
2. The grant is redeemed (:func:`offerengine.campaigns.grants.redeem`, as an accepted quote redeems
   one): ISSUED → REDEEMED with the order's id, only while issued, unexpired and the order's
   customer's; the campaign's reservation becomes the discount given, only while what is spent
   stays within the budget. Otherwise a 409 naming the coupon, and the order's transaction
   takes nothing (no hold, no order).
3. Cancelled or expired (:func:`give_back`, beside the loyalty points' reversal): each grant the
   order redeemed is open again (or EXPIRED when past its time) and its discount is no longer
   spent; once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.campaigns import grants as granting
from offerengine.errors import Conflict, FieldError, Invalid
from offerengine.shopping.core import _grants as core
from offerengine.shopping.grants import personal_of


async def redeem(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    order_id: uuid.UUID,
    customer_id: str | None,
    items: Sequence[dict[str, Any]],
    price: dict[str, Any],
    total_minor: int,
    currency: str,
    now: datetime,
) -> tuple[dict[str, Any], int]:
    """The order's price and total with the grants its offer applied redeemed (``price`` is the
    offer's, ``total_minor`` that of the kept items before coupons); the same when it applied
    none."""
    applied = core.applied_codes(price)
    if not applied:
        return price, total_minor
    before = {**core.without(price), "total": money.format_amount(total_minor, currency)}
    codes = tuple(str(a["code"]) for a in applied)
    found = await granting.find(session, tenant_id, codes)
    personal: dict[str, core.Personal] = {}
    for a in applied:
        grant = found.get(str(a["code"]))
        if grant is None or str(grant.id) != str(a["grant_id"]):
            raise Conflict(
                f"Coupon {a['code']} no longer exists; nothing was booked. Search again.",
                [FieldError(("coupons", str(a["code"])), "no such coupon")],
            )
        personal[grant.code] = personal_of(grant)
    done = core.apply(before, items, codes, personal, {}, currency)
    for outcome in done.outcomes:
        if not outcome.applied:
            raise Invalid.field(
                ("body", "selected_optional_items"),
                f"the order no longer takes coupon {outcome.code}: {outcome.reason}",
            )
    for outcome in done.outcomes:
        assert outcome.personal is not None  # applied
        await granting.redeem(
            session,
            tenant_id=tenant_id,
            grant_id=uuid.UUID(outcome.personal.grant_id),
            code=outcome.code,
            customer_id=customer_id,
            discount=money.to_minor(outcome.amount, currency),
            now=now,
            order_id=order_id,
        )
    return done.price, money.to_minor(Decimal(done.price["total"]), currency)


async def give_back(
    session: AsyncSession, *, tenant_id: uuid.UUID, order_id: uuid.UUID, now: datetime
) -> list[str]:
    """The order was cancelled or expired: its grants are open again, their spend released."""
    return await granting.unredeem(session, tenant_id=tenant_id, order_id=order_id, now=now)
