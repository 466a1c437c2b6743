"""Stored quotes: reading one (`GET /v1/quotes/{id}`) and accepting it (`POST …/accept`).

A quote is read from the database, which knows whether it was accepted, else from its young
record (made, not stored yet); a young one found in neither is waited for, as offers are. Its
status reads EXPIRED once past ``valid_until`` unless accepted.

Accepting takes the quote's coupon uses in one transaction (``count + 1`` where the count is below
the limit, in all and for the customer), all or none; accepting it again answers the same. A
campaign's grant the quote applied is redeemed in the same transaction: that is what "redeemed"
means (:func:`offerengine.campaigns.grants.redeem`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

from offerengine import money
from offerengine.campaigns import grants as granting
from offerengine.clock import utcnow
from offerengine.commerce import quote_sharing
from offerengine.commerce.models import CouponUsage, StoredQuote
from offerengine.commerce.quote_response import ACCEPTED, FOUND, envelope
from offerengine.db import upsert
from offerengine.db.session import write_transaction
from offerengine.errors import Conflict, FieldError, Gone, NotFound
from offerengine.ids import uuid_age_seconds
from offerengine.recording import records, store
from offerengine.recording.writer import LOOKUP_WITHIN
from offerengine.snapshots.core import Snapshot

if TYPE_CHECKING:
    from offerengine.context import AppContext

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _as_read(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    data = dict(_decode(row["data"]))
    status = row["status"]
    if status == "QUOTED" and row["valid_until"] <= now:
        status = "EXPIRED"
    data["status"] = status
    accepted_at = row.get("accepted_at")
    data["accepted_at"] = (
        None if accepted_at is None else accepted_at.isoformat().replace("+00:00", "Z")
    )
    return data


def _columns(found: StoredQuote) -> dict[str, Any]:
    """What :func:`_as_read` reads, from a stored quote (a pending one is a dict of its row)."""
    return {
        "data": found.data,
        "status": found.status,
        "valid_until": found.valid_until,
        "accepted_at": found.accepted_at,
    }


async def _find(ctx: AppContext, tenant_id: uuid.UUID, quote_id: uuid.UUID) -> dict[str, Any]:
    """The quote's row: the database's (which knows whether it was accepted), else its young
    record (not stored yet); a young one found in neither is waited for, as offers are."""
    while True:
        async with ctx.session_factory() as session:
            found = await session.get(StoredQuote, quote_id)
        if found is not None and found.tenant_id == tenant_id:
            return _columns(found)
        young = await ctx.recorder.young(("quote", quote_id))
        if isinstance(young, records.Quote) and young.tenant_id == tenant_id:
            return {"data": young.data, "status": "QUOTED", "valid_until": young.valid_until}
        age = uuid_age_seconds(quote_id)
        if found is not None or not (-1 < age < LOOKUP_WITHIN):
            raise NotFound(f"No quote {quote_id}.")
        await asyncio.sleep(0.02)


async def get(ctx: AppContext, snapshot: Snapshot, quote_id: uuid.UUID, now: datetime) -> bytes:
    started = time.perf_counter()
    row = await _find(ctx, snapshot.tenant.id, quote_id)
    return envelope(FOUND, _encode(_as_read(row, now)), started)


async def accept(ctx: AppContext, snapshot: Snapshot, quote_id: uuid.UUID, now: datetime) -> bytes:
    """Accept a valid quote and take its coupons' uses, all or nothing (409 naming a coupon
    whose limit was reached meanwhile); accepting it again answers the same; 410 once expired."""
    started = time.perf_counter()
    tenant_id = snapshot.tenant.id
    young = await ctx.recorder.young(("quote", quote_id))
    if not (isinstance(young, records.Quote) and young.tenant_id == tenant_id):
        young = None
        await _find(ctx, tenant_id, quote_id)  # stored, or another worker's on its way (or 404)
    async with write_transaction(ctx) as session:
        if young is not None:  # not stored yet: store it first (writing it again is a no-op)
            await (await session.connection()).run_sync(store.write, [young])
        taken = (
            await session.execute(
                sa.update(StoredQuote)
                .where(
                    StoredQuote.id == quote_id,
                    StoredQuote.tenant_id == tenant_id,
                    StoredQuote.status == "QUOTED",
                    StoredQuote.valid_until > now,
                )
                .values(status="ACCEPTED", accepted_at=now)
                .returning(StoredQuote.id)
            )
        ).first()
        found = await session.get(StoredQuote, quote_id, populate_existing=True)
        assert found is not None
        if taken is None and found.status != "ACCEPTED":
            raise Gone(f"Quote {quote_id} expired at {found.valid_until.isoformat()}; ask again.")
        if taken is not None:
            await _take_coupons(session, snapshot, found)
        answer = _as_read(_columns(found), now)
    # Accepted: this worker and Redis no longer offer it to an identical request (another worker
    # holding it may, until it expires; accepting it again counts nothing twice).
    ctx.quotes.forget(quote_id)
    await quote_sharing.unshare(ctx, tenant_id, found.request_hash)
    return envelope(ACCEPTED, _encode(answer), started)


async def _take_coupons(session: Any, snapshot: Snapshot, found: StoredQuote) -> None:
    """Count a use of each coupon the quote applied, in all and for its customer, each within
    the coupon's limit; a limit reached is a 409 and the caller's transaction takes nothing."""
    tenant_id = snapshot.tenant.id
    amounts: dict[str, Any] | None = None
    for applied in found.coupons:
        coupon_id = uuid.UUID(applied["coupon_id"])
        coupon = snapshot.commerce.coupons.get(applied["code"])
        if (coupon is None or coupon.id != coupon_id) and granting.is_personal(applied["code"]):
            if amounts is None:  # what each coupon took off, as the quote answered
                answered = _decode(found.data).get("coupons", {}).get("applied", [])
                amounts = {str(a["coupon_id"]): a["amount"] for a in answered}
            redeemed = await granting.redeem(
                session,
                tenant_id=tenant_id,
                grant_id=coupon_id,
                code=applied["code"],
                customer_id=found.customer_id,
                quote_id=found.id,
                discount=money.to_minor(Decimal(str(amounts[str(coupon_id)])), found.currency),
                now=found.accepted_at or utcnow(),
            )
            if redeemed:
                continue
        limits = [("", None if coupon is None else coupon.usage_limit_total)]
        if found.customer_id:
            limits.append(
                (found.customer_id, None if coupon is None else coupon.usage_limit_per_customer)
            )
        for subject, limit in limits:
            key = {"tenant_id": tenant_id, "coupon_id": coupon_id, "customer_id": subject}
            if not await upsert.count_up(session, CouponUsage, key, limit):
                who = "in all" if subject == "" else "by this customer"
                raise Conflict(
                    f"Coupon {applied['code']} reached its usage limit ({limit} {who}) since "
                    "the quote was made; nothing was accepted. Ask for a new quote.",
                    [FieldError(("coupons", applied["code"]), "usage limit reached")],
                )
