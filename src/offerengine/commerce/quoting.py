"""Quotes at run time: `POST /v1/quote`, answered with a stored quote or a new one.

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
A campaign's grant is a personal coupon (:mod:`offerengine.campaigns.grants`): its code is read
from the database when named, applies for its customer only, and is redeemed on acceptance.

Making a quote is here; the response it answers is ``quote_response``'s, the sharing through Redis
``quote_sharing``'s, and reading and accepting a stored quote ``stored_quotes``' (``get`` and
``accept``, named here too for the router).
"""

from __future__ import annotations

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

from offerengine import money
from offerengine.campaigns import grants as granting
from offerengine.commerce import core, quote_sharing
from offerengine.commerce.cache import Cached
from offerengine.commerce.models import CouponUsage
from offerengine.commerce.quote_request import Request
from offerengine.commerce.quote_request import decode as decode_request
from offerengine.commerce.quote_response import CALCULATED, STORED, envelope, quote_data
from offerengine.commerce.stored_quotes import accept, get
from offerengine.errors import FieldError, raise_if_any
from offerengine.flags import core as flags
from offerengine.ids import new_time_uuid
from offerengine.recording import records
from offerengine.snapshots.core import Snapshot

if TYPE_CHECKING:
    from offerengine.context import AppContext

__all__ = [
    "accept",
    "answer",
    "basket",
    "cached_quote",
    "digest_of",
    "evaluate_flags",
    "flag_context",
    "get",
    "priced_basket",
    "quote",
]

_encode = msgspec.json.Encoder().encode


def _check(
    snapshot: Snapshot,
    request: Request,
    currency: str,
    personal: Mapping[str, core.Coupon],
    refused: Mapping[str, str],
) -> None:
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
        known = code.strip().upper()
        if known not in coupons and known not in personal:
            why = refused.get(known, f"no coupon {code!r}")
            errors.append(FieldError(("body", "coupon_codes", i), why))
    raise_if_any(errors)


async def _personal(
    ctx: AppContext, snapshot: Snapshot, request: Request
) -> tuple[dict[str, core.Coupon], dict[uuid.UUID, core.Usage], dict[str, str]]:
    """The customer's personal coupons among the codes (a campaign's grants, not in the
    snapshot: they are per customer, read at quote time) with their uses; and why a grant's
    code named by another customer, or with no customer, is not theirs."""
    coupons = snapshot.commerce.coupons
    wanted = [
        known
        for code in request.coupon_codes
        if (known := code.strip().upper()) not in coupons and granting.is_personal(known)
    ]
    if not wanted:
        return {}, {}, {}
    async with ctx.session_factory() as session:
        found = await granting.find(session, snapshot.tenant.id, wanted)
    personal, usage, refused = {}, {}, {}
    for code, grant in found.items():
        if request.customer_id is None:
            refused[code] = f"coupon {code!r} is personal: send its customer's customer_id"
        elif grant.customer_id != request.customer_id:
            refused[code] = f"coupon {code!r} is personal to another customer"
        else:
            personal[code] = coupon = granting.as_coupon(grant)
            usage[coupon.id] = granting.usage(grant)
    return personal, usage, refused


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


def priced_basket(snapshot: Snapshot, sent: core.Basket, at: datetime) -> core.Basket:
    """``sent`` in a currency the tenant's rules in force cover: as it is, or converted with the
    tenant's exchange rates (the fare settings'); 422 naming ``currency`` when neither can be."""
    fares = snapshot.shopping.fares
    exchange = core.priced_in(
        sent.currency,
        base=snapshot.tenant.base_currency,
        covered=snapshot.commerce.at(at).currencies,
        rate_of=fares.rate,
        version=fares.version,
    )
    return sent if exchange is None else core.convert(sent, exchange)


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
    shared = await quote_sharing.shared(ctx, tenant_id, digest, now)
    if shared is not None:
        ctx.quotes.put(tenant_id, digest, shared)
        return envelope(STORED, shared.data, started)
    currency = request.currency or snapshot.tenant.base_currency
    personal, personal_usage, refused = await _personal(ctx, snapshot, request)
    _check(snapshot, request, currency, personal, refused)
    priced = priced_basket(snapshot, basket(request, currency), now)
    await ctx.recorder.catch_up()
    evaluated = evaluate_flags(snapshot, request, now)
    usage = {**await _usage(ctx, snapshot, request), **personal_usage}
    result = core.quote(
        snapshot.commerce,
        priced,
        at=now,
        flags=evaluated.values,
        usage=usage,
        personal=personal,
    )
    quote_id = new_time_uuid()
    validity = snapshot.commerce.settings.validity_seconds or ctx.settings.quote_validity_seconds
    valid_until = now + timedelta(seconds=validity)
    data = quote_data(
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
    await quote_sharing.share(ctx, tenant_id, digest, cached, now)
    return envelope(CALCULATED, encoded, started)
