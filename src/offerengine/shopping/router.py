"""Shopping: offer rules and fare settings (admin), search and offers (run time)."""

from __future__ import annotations

from typing import Annotated, Any, cast

import msgspec
from fastapi import Path, Request, Response
from starlette.convertors import Convertor, register_url_convertor

from offerengine.context import AppContext
from offerengine.db.base import utcnow
from offerengine.flags import core as flags
from offerengine.http.body import documented, read_json
from offerengine.http.routing import router
from offerengine.recording import records
from offerengine.shopping import config
from offerengine.shopping.schemas import (
    FareSettingsRead,
    FareSettingsUpdate,
    OfferRead,
    OfferRulesRead,
    OfferRulesUpdate,
    RepriceResponse,
    SearchRequest,
    SearchResponse,
)
from offerengine.snapshots.deps import BEARER, RuntimeSnapshot, snapshot_of
from offerengine.versioning.router import add_document_routes

api = router(tags=["shopping"])
TENANT = "/v1/admin/tenants/{tenant}"


add_document_routes(
    api,
    config.OFFER_RULES,
    slug="offer-rules",
    operation="OfferRules",
    title="Offer Rules",
    read_model=OfferRulesRead,
    update_model=OfferRulesUpdate,
    get_description='The offer mix (seed 001\'s "Standard Offer Mix"); version 0 means the '
    "defaults apply.",
    put_description="Replace the offer rules: which offer types, how many offers, ranking "
    "weights, expiry.",
)
add_document_routes(
    api,
    config.FARE_SETTINGS,
    slug="fare-settings",
    operation="FareSettings",
    title="Fare Settings",
    read_model=FareSettingsRead,
    update_model=FareSettingsUpdate,
    get_description="Taxes and fees, exchange rates, child and infant ratios, the low-inventory "
    "webhook.",
    put_description="Replace the fare settings.",
)


# --- run time -------------------------------------------------------------------------------------

runtime = router(tags=["run time"], hot=True)
_encode = msgspec.json.Encoder().encode
OfferId = Annotated[
    str, Path(pattern="^[0-9a-f]{32}$", description="The offer's id (32 hex digits).")
]


class OfferIdConvertor(Convertor[str]):
    """Offer ids are 32 lower-case hex digits, so ``/v1/offers/search`` is never taken for one."""

    regex = "[0-9a-f]{32}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("offer_id", OfferIdConvertor())


def _ctx(request: Request) -> AppContext:
    return cast(AppContext, request.app.state.context)


def _json(data: Any) -> Response:
    return Response(_encode(data), media_type="application/json")


@runtime.post(
    "/v1/offers/search",
    operation_id="searchOffers",
    response_model=SearchResponse,
    openapi_extra={**documented(SearchRequest), **BEARER},
)
async def search_offers(request: Request) -> Response:
    """Priced, ranked offers for every flight of the route and date with seats: flight only and
    bundles, as the offer rules mix them, each with its items, per-passenger prices, taxes, trace,
    score and expiry. The offers are stored: get them, price them again, order them."""
    snapshot = await snapshot_of(request)
    body = await read_json(request, SearchRequest)
    ctx = _ctx(request)
    recorder = ctx.recorder
    await recorder.catch_up()
    now = utcnow()
    searched = await ctx.shop.search(snapshot, body, now)
    await recorder.record(searched.record, *searched.exposures)
    answer = searched.response()
    keys = snapshot.flags.tagged.get("shop")
    if keys:
        evaluated = flags.evaluate_all(
            snapshot.flags,
            keys,
            flag_context(body),
            at=now,
            experiments_index=snapshot.experiments,
            saved_groups=snapshot.tenant.saved_groups,
        )
        await recorder.record(*records.exposures(snapshot.tenant.id, evaluated.exposures, now))
        answer = answer[:-1] + b',"feature_flags":' + _encode(evaluated.values) + b"}"
    return Response(answer, media_type="application/json")


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
        origin=body.origin,
        destination=body.destination,
        cabin=body.cabin,
    )
    return {k: v for k, v in context.items() if v is not None}


@runtime.get("/v1/offers/{offer_id:offer_id}", operation_id="getOffer", response_model=OfferRead)
async def get_offer(request: Request, snapshot: RuntimeSnapshot, offer_id: OfferId) -> Response:
    """An offer as the search showed it: 404 if unknown, 410 once expired."""
    offer = await _ctx(request).shop.offer(snapshot.tenant.id, offer_id, now=utcnow())
    return Response(offer.body_json, media_type="application/json")


@runtime.post(
    "/v1/offers/{offer_id:offer_id}/price",
    operation_id="priceOffer",
    response_model=RepriceResponse,
)
async def price_offer(request: Request, snapshot: RuntimeSnapshot, offer_id: OfferId) -> Response:
    """Price the offer again now, with live inventory: the same price while inventory and rules
    are unchanged, else the new one with `price_changed: true`. 410 if expired, 409 if the flight
    can no longer make it."""
    done = await _ctx(request).shop.reprice(snapshot, offer_id, utcnow())
    return _json(
        {
            "offer_id": done.offer_id,
            "price_changed": done.changed,
            "previous_total": done.previous_total,
            "offer": done.offer,
        }
    )
