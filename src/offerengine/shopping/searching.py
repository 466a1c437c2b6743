"""Searching offers, the use case: the search itself (:class:`~offerengine.shopping.service.ShopRuntime`),
its records, the feature flags tagged ``shop`` evaluated for the same customer, and the personal
coupons (campaign grants) its ``coupon_codes`` name (:mod:`offerengine.shopping.grants`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from offerengine.context import AppContext
from offerengine.flags import core as flags
from offerengine.recording import records
from offerengine.shopping import grants as personal_coupons
from offerengine.shopping.schemas import SearchRequest
from offerengine.snapshots.core import Snapshot

_encode = msgspec.json.Encoder().encode


async def search(ctx: AppContext, snapshot: Snapshot, body: SearchRequest, now: datetime) -> bytes:
    """The search's answer (JSON), once its offers and exposures are recorded: with a
    ``feature_flags`` object when flags are tagged ``shop``."""
    recorder = ctx.recorder
    await recorder.catch_up()
    given = None
    if body.coupon_codes:  # per customer, read now (a session of its own, closed before the search)
        given = await personal_coupons.read(
            ctx.session_factory, snapshot.tenant.id, body.coupon_codes, body.customer.id, now
        )
    searched = await ctx.shop.search(snapshot, body, now, reuse=given is None)
    coupons = None
    if given is not None:
        searched, coupons = personal_coupons.apply(searched, given)
    await recorder.record(searched.record, *searched.exposures)
    answer = searched.response()
    if coupons is not None:  # the answer is encoded already: its coupons go in before its close
        answer = answer[:-1] + b',"coupons":' + _encode(coupons) + b"}"
    keys = snapshot.flags.tagged.get("shop")
    if not keys:
        return answer
    evaluated = flags.evaluate_all(
        snapshot.flags,
        keys,
        flag_context(body),
        at=now,
        experiments_index=snapshot.experiments,
        saved_groups=snapshot.tenant.saved_groups,
    )
    await recorder.record(*records.exposures(snapshot.tenant.id, evaluated.exposures, now))
    # The answer is already encoded: the flags' values go in before its closing brace.
    return answer[:-1] + b',"feature_flags":' + _encode(evaluated.values) + b"}"


def flag_context(body: SearchRequest) -> dict[str, Any]:
    """What a search's flags see: the customer as the unit (``user_id``), its segment, tier and
    other fields, the channel, the route and the cabin, and the search's context facts."""
    customer = body.customer
    context: dict[str, Any] = {**body.context, **(customer.model_extra or {})}
    context.update(
        user_id=customer.id,
        customer_id=customer.id,
        profile_id=customer.id,
        segment=customer.segment,
        tier=customer.tier,
        channel=body.channel,
        origin=body.origin or (body.slices[0].origin if body.slices else None),
        destination=body.destination or (body.slices[0].destination if body.slices else None),
        cabin=body.cabin,
    )
    return {k: v for k, v in context.items() if v is not None}
