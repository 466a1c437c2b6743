"""Quotes at run time: `POST /v1/quote`, reading a stored quote, and accepting one.

A quote is computed from the tenant's compiled snapshot (no configuration query), stored behind
the response in the recorder's batches, and kept for ``valid_until``. Its ``request_hash`` is
the SHA-256 of the configuration version and the request's bytes: every input that affects the
result (coupons, pickup address and context included), and a change of rules makes a new quote.
An identical request while the quote is valid gets that quote back without being priced again:
from the worker's memory, and, when Redis is configured, from any worker (the quote is put there
when made). Without Redis each worker keeps its own; another worker then makes an equally correct
quote of its own. Two spellings of one request (other spacing or key order) are two quotes.

Coupon usage counts only when a quote is accepted: one transaction takes every coupon's use
(``count + 1`` where the count is below the limit, in all and for the customer), all or none.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa
from redis.exceptions import RedisError

from offerengine import money
from offerengine.commerce import core
from offerengine.commerce.cache import Cached
from offerengine.commerce.models import CouponUsage, StoredQuote
from offerengine.commerce.quote_request import Request
from offerengine.commerce.quote_request import decode as decode_request
from offerengine.db import upsert
from offerengine.db.session import write_transaction
from offerengine.errors import Conflict, FieldError, Gone, NotFound, raise_if_any
from offerengine.flags import core as flags
from offerengine.ids import new_time_uuid, uuid_age_seconds
from offerengine.observability.logging import get_logger
from offerengine.recording import records, store
from offerengine.recording.writer import LOOKUP_WITHIN
from offerengine.snapshots.core import Snapshot

if TYPE_CHECKING:
    from offerengine.context import AppContext

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
log = get_logger("offerengine.quotes")
CALCULATED = _encode("Quote calculated successfully")
STORED = _encode("The stored quote for this request (identical, and still valid)")
FOUND = _encode("Quote found")
ACCEPTED = _encode("Quote accepted")


def envelope(message: bytes, data: bytes, started: float) -> bytes:
    """Seed 002's envelope around an encoded ``data``."""
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    return b"".join(
        (
            b'{"success":true,"message":',
            message,
            b',"data":',
            data,
            b',"processing_time_ms":',
            _encode(elapsed),
            b"}",
        )
    )


def _check(snapshot: Snapshot, request: Request, currency: str) -> None:
    errors = []
    exact = money.exact(currency)
    for i, item in enumerate(request.items):
        if exact(item.unit_price):
            continue
        try:  # what is wrong with it
            money.to_minor(item.unit_price, currency)
        except ValueError as exc:
            errors.append(FieldError(("body", "items", i, "unit_price"), str(exc)))
    coupons = snapshot.commerce.coupons
    for i, code in enumerate(request.coupon_codes):
        if code.strip().upper() not in coupons:
            errors.append(FieldError(("body", "coupon_codes", i), f"no coupon {code!r}"))
    raise_if_any(errors)


def basket(request: Request, currency: str) -> core.Basket:
    """The request as the core takes it."""
    return core.Basket(
        currency=currency,
        items=tuple(request.items),
        delivery=request.delivery_address,
        pickup=request.pickup_address,
        express=request.is_express_delivery,
        coupon_codes=tuple(request.coupon_codes),
        customer_id=request.customer_id,
        seller_id=request.seller_id,
        logistics_provider=request.logistics_provider,
    )


def flag_context(request: Request) -> dict[str, Any]:
    """What the quote's flags see: the customer as the unit, the delivery city as the region,
    and every context field."""
    context = dict(request.context)
    context.update(
        {
            "user_id": request.customer_id,
            "customer_id": request.customer_id,
            "profile_id": request.customer_id,
            "seller_id": request.seller_id,
            "region": request.delivery_address.city,
            "city": request.delivery_address.city,
            "country": request.delivery_address.country,
            "express": request.is_express_delivery,
        }
    )
    return {k: v for k, v in context.items() if v is not None}


def evaluate_flags(snapshot: Snapshot, request: Request, at: datetime) -> flags.Evaluated:
    """The quote's flags for this customer (those tagged "quote", and those its rules read), and
    the experiment exposures they make."""
    keys = snapshot.commerce.quote_flags
    if not keys:
        return flags.Evaluated({}, [])
    return flags.evaluate_all(
        snapshot.flags,
        keys,
        flag_context(request),
        at=at,
        experiments_index=snapshot.experiments,
        saved_groups=snapshot.tenant.saved_groups,
    )


# Parts of the response's data, as encoded (quote_schemas documents them): built and encoded
# quicker than dicts, and a quote has dozens. Its calculations are the core's Steps as they are.
class _CommissionDetail(msgspec.Struct):
    item_index: int
    product_id: str
    component: str
    rate_id: uuid.UUID
    rate_version: int
    rate_name: str
    commission_type: str
    base: Decimal
    amount: Decimal
    calculation: str


class _QuotedItem(msgspec.Struct):
    index: int
    product_id: str
    variant_id: str | None
    quantity: int
    unit_price: Decimal
    value: Decimal
    discount: Decimal
    net: Decimal
    tax: Decimal
    tax_rule_id: uuid.UUID | None
    commission: Decimal


def data_of(
    result: core.Quote,
    *,
    quote_id: uuid.UUID,
    created_at: datetime,
    valid_until: datetime,
    config_version: int,
) -> dict[str, Any]:
    """The response's ``data``. Amounts stay Decimals (each already rounded to the currency, so
    they print with its decimals), ids UUIDs and times datetimes: the JSON encoder writes them
    as decimal strings, UUID strings and RFC 3339 times."""
    currency = result.currency
    rounded = money.quantizer(currency)
    zero = rounded(Decimal(0))
    details = []
    items = []
    # Commission by component, summed here rather than by Quote.commission (a pass per component).
    earned = {"seller": zero, "category": zero, "logistics": zero}
    for line in result.lines:
        item = line.item
        index = line.index
        product_id = item.product_id
        commission = zero
        for part in line.commissions:
            rate = part.rate
            commission += part.amount
            earned[part.component] += part.amount
            details.append(
                _CommissionDetail(
                    index,
                    product_id,
                    part.component,
                    rate.id,
                    rate.version,
                    rate.name,
                    rate.commission_type,
                    part.base,
                    part.amount,
                    part.note,
                )
            )
        items.append(
            _QuotedItem(
                index,
                product_id,
                item.variant_id,
                item.quantity,
                rounded(item.unit_price),
                line.value,
                line.discount,
                line.net,
                line.tax,
                None if line.tax_rule is None else line.tax_rule.id,
                commission,
            )
        )
    totals = {
        "subtotal": result.subtotal,
        "tax_amount": result.tax_amount,
        "delivery_fee": result.delivery_fee,
        "small_basket_fee": result.small_basket_fee,
        "discount_amount": result.discount_amount,
        "total_amount": result.total_amount,
    }
    return {
        "quote_id": quote_id,
        "status": "QUOTED",
        **totals,
        "currency": currency,
        "items": items,
        "coupons": {
            "applied": [
                {
                    "code": o.code,
                    "coupon_id": o.coupon.id,
                    "version": o.coupon.version,
                    "type": o.coupon.type,
                    "amount": o.amount,
                    "description": o.reason or "",
                }
                for o in result.coupons
                if o.applied and o.coupon is not None
            ],
            "rejected": [
                {"code": o.code, "reason": o.reason or ""} for o in result.coupons if not o.applied
            ],
        },
        "commission_breakdown": {
            "total_commission": earned["seller"] + earned["category"] + earned["logistics"],
            "seller_commission": earned["seller"],
            "category_commission": earned["category"],
            "logistics_commission": earned["logistics"],
            "currency": currency,
            "details": details,
        },
        "pricing_breakdown": {
            "item_total": result.item_total,
            **{k: v for k, v in totals.items() if k != "total_amount"},
            "total_amount": totals["total_amount"],
            "currency": currency,
            "distance_km": None if result.distance_km is None else str(result.distance_km),
            "calculations": result.steps,  # Structs with the documented fields, in order
            "notes": result.notes,
        },
        "applied_rules": [a.json for a in result.applied],  # encoded when compiled
        "warnings": result.warnings,
        "feature_flags": dict(result.flags),
        "created_at": created_at,
        "valid_until": valid_until,
        "accepted_at": None,
        "config_version": config_version,
    }


def _record(
    result: core.Quote,
    data: bytes,
    *,
    tenant_id: uuid.UUID,
    quote_id: uuid.UUID,
    digest: str,
    request: Request,
    created_at: datetime,
    valid_until: datetime,
    day: str,
) -> records.Quote:
    """The quote's record, with its analytics lines."""
    currency = result.currency
    scale = 1 / money.unit(currency)  # exact: a power of ten

    def minor(value: Decimal) -> int:
        # Exact: every amount of a quote is already rounded to the currency's minor units (and
        # a product is quicker than scaleb).
        return int(value * scale)

    # Sums per (category, seller, logistics provider): units, value, net, tax, commissions.
    groups: dict[tuple[str | None, str | None, str | None], list[int]] = {}
    column = {"seller": 4, "category": 5, "logistics": 6}
    seller, logistics = request.seller_id, request.logistics_provider
    for line in result.lines:
        item = line.item
        group_key = (item.category, item.seller_id or seller, item.logistics_provider or logistics)
        sums = groups.get(group_key)
        if sums is None:
            sums = groups[group_key] = [0] * 7
        sums[0] += item.quantity
        sums[1] += minor(line.value)
        sums[2] += minor(line.net)
        sums[3] += minor(line.tax)
        for part in line.commissions:
            sums[column[part.component]] += minor(part.amount)
    return records.Quote(
        tenant_id=tenant_id,
        id=quote_id,
        request_hash=digest,
        created_at=created_at,
        valid_until=valid_until,
        day=day,
        customer_id=request.customer_id,
        seller_id=request.seller_id,
        city=core.key(request.delivery_address.city) or "",
        country=request.delivery_address.country,
        currency=currency,
        item_total=minor(result.item_total),
        discount=minor(result.discount_amount),
        tax=minor(result.tax_amount),
        delivery_fee=minor(result.delivery_fee),
        small_basket_fee=minor(result.small_basket_fee),
        total=minor(result.total_amount),
        commission=sum(sum(sums[4:]) for sums in groups.values()),
        coupons=[
            {"coupon_id": str(o.coupon.id), "code": o.code}
            for o in result.coupons
            if o.applied and o.coupon is not None
        ],
        data=data,
        lines=[  # in QuoteLine's column order, after its tenant and quote
            (n, category, seller_id, provider, *sums)
            for n, ((category, seller_id, provider), sums) in enumerate(groups.items())
        ],
    )


async def _usage(
    ctx: AppContext, snapshot: Snapshot, request: Request
) -> dict[uuid.UUID, core.Usage]:
    limited = [
        c
        for code in request.coupon_codes
        if (c := snapshot.commerce.coupons.get(code.strip().upper())) is not None
        and (c.usage_limit_total is not None or c.usage_limit_per_customer is not None)
    ]
    if not limited:
        return {}
    subjects = ["", *([request.customer_id] if request.customer_id else [])]
    async with ctx.session_factory() as session:
        rows = await session.execute(
            sa.select(CouponUsage.coupon_id, CouponUsage.customer_id, CouponUsage.count).where(
                CouponUsage.tenant_id == snapshot.tenant.id,
                CouponUsage.coupon_id.in_([c.id for c in limited]),
                CouponUsage.customer_id.in_(subjects),
            )
        )
    found: dict[uuid.UUID, dict[str, int]] = {}
    for coupon_id, customer_id, count in rows:
        found.setdefault(coupon_id, {})[customer_id] = int(count)
    customer = request.customer_id
    return {
        c.id: core.Usage(
            total=found.get(c.id, {}).get("", 0),
            customer=found.get(c.id, {}).get(customer, 0) if customer else 0,
        )
        for c in limited
    }


def _redis_key(prefix: str, tenant_id: uuid.UUID, digest: str) -> str:
    return f"{prefix}:quote:{tenant_id}:{digest}"


async def _shared(
    ctx: AppContext, tenant_id: uuid.UUID, digest: str, now: datetime
) -> Cached | None:
    """The quote another worker made for this request, when workers share them through Redis
    (over the hot path's pipelined connection)."""
    if ctx.line is None:
        return None
    try:
        found = await ctx.line.execute(
            "GET", _redis_key(ctx.settings.redis_prefix, tenant_id, digest)
        )
    except RedisError as exc:  # a missing shared copy only costs a new quote
        log.warning("quote_cache_unavailable", error=str(exc))
        return None
    if found is None:
        return None
    raw = found.encode() if isinstance(found, str) else found
    quote_id, valid_until, data = raw.split(b"\n", 2)
    cached = Cached(
        uuid.UUID(quote_id.decode()), datetime.fromisoformat(valid_until.decode()), data
    )
    return cached if cached.valid_until > now else None


async def _share(
    ctx: AppContext, tenant_id: uuid.UUID, digest: str, cached: Cached, now: datetime
) -> None:
    if ctx.line is None:
        return
    value = b"\n".join(
        (str(cached.quote_id).encode(), cached.valid_until.isoformat().encode(), cached.data)
    )
    ttl = max(1, int((cached.valid_until - now).total_seconds() * 1000))
    try:
        await ctx.line.execute(
            "SET", _redis_key(ctx.settings.redis_prefix, tenant_id, digest), value, "PX", ttl, "NX"
        )
    except RedisError as exc:
        log.warning("quote_cache_unavailable", error=str(exc))


def digest_of(snapshot: Snapshot, body: bytes) -> str:
    """The request's hash: the configuration version and the request as sent."""
    return hashlib.sha256(b"%d\n" % snapshot.version + body).hexdigest()


def cached_quote(ctx: AppContext, snapshot: Snapshot, digest: str, now: datetime) -> Cached | None:
    """This worker's quote for an identical request, while valid (no pricing, no validation:
    the same bytes were validated when it was made)."""
    return ctx.quotes.get(snapshot.tenant.id, digest, now)


async def answer(ctx: AppContext, snapshot: Snapshot, body: bytes, now: datetime) -> bytes:
    """The answer to a quote request as sent (``body``, checked for unstorable text): this
    worker's quote for identical bytes while it is valid, else :func:`quote`'s."""
    started = time.perf_counter()
    digest = digest_of(snapshot, body)
    cached = cached_quote(ctx, snapshot, digest, now)
    if cached is not None:
        return envelope(STORED, cached.data, started)
    return await quote(ctx, snapshot, decode_request(body), digest, now, started)


async def quote(
    ctx: AppContext,
    snapshot: Snapshot,
    request: Request,
    digest: str,
    now: datetime,
    started: float,
) -> bytes:
    """Answer a quote request whose hash this worker has no quote for: another worker's (through
    Redis), or a new one."""
    tenant_id = snapshot.tenant.id
    shared = await _shared(ctx, tenant_id, digest, now)
    if shared is not None:
        ctx.quotes.put(tenant_id, digest, shared)
        return envelope(STORED, shared.data, started)
    currency = request.currency or snapshot.tenant.base_currency
    _check(snapshot, request, currency)
    await ctx.recorder.catch_up()
    evaluated = evaluate_flags(snapshot, request, now)
    usage = await _usage(ctx, snapshot, request)
    result = core.quote(
        snapshot.commerce, basket(request, currency), at=now, flags=evaluated.values, usage=usage
    )
    quote_id = new_time_uuid()
    validity = snapshot.commerce.settings.validity_seconds or ctx.settings.quote_validity_seconds
    valid_until = now + timedelta(seconds=validity)
    data = data_of(
        result,
        quote_id=quote_id,
        created_at=now,
        valid_until=valid_until,
        config_version=snapshot.version,
    )
    encoded = _encode(data)
    day = now.astimezone(ZoneInfo(snapshot.tenant.timezone)).date().isoformat()  # ZoneInfo caches
    record = _record(
        result,
        encoded,
        tenant_id=tenant_id,
        quote_id=quote_id,
        digest=digest,
        request=request,
        created_at=now,
        valid_until=valid_until,
        day=day,
    )
    await ctx.recorder.record(record, *records.exposures(tenant_id, evaluated.exposures, now))
    cached = Cached(quote_id, valid_until, encoded)
    ctx.quotes.put(tenant_id, digest, cached)
    await _share(ctx, tenant_id, digest, cached, now)
    return envelope(CALCULATED, encoded, started)


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
    await _unshare(ctx, tenant_id, found.request_hash)
    return envelope(ACCEPTED, _encode(answer), started)


async def _take_coupons(session: Any, snapshot: Snapshot, found: StoredQuote) -> None:
    """Count a use of each coupon the quote applied, in all and for its customer, each within
    the coupon's limit; a limit reached is a 409 and the caller's transaction takes nothing."""
    tenant_id = snapshot.tenant.id
    for applied in found.coupons:
        coupon_id = uuid.UUID(applied["coupon_id"])
        coupon = snapshot.commerce.coupons.get(applied["code"])
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


async def _unshare(ctx: AppContext, tenant_id: uuid.UUID, digest: str) -> None:
    """An accepted quote is no longer offered to an identical request, by any worker."""
    if ctx.redis is None:
        return
    try:
        await ctx.redis.delete(_redis_key(ctx.settings.redis_prefix, tenant_id, digest))
    except RedisError as exc:
        log.warning("quote_cache_unavailable", error=str(exc))
