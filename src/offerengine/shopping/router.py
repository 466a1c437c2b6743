"""Shopping: offer rules and fare settings (admin), search and offers (run time)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from offerengine.clock import utcnow
from offerengine.http.routing import router
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.shopping import config, searching
from offerengine.shopping.schemas import OfferRead, RepriceResponse, SearchRequest, SearchResponse
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes

api = router(tags=["shopping"])
TENANT = "/v1/admin/tenants/{tenant}"


add_kind_routes(
    api,
    config.OFFER_RULES,
    docs=RouteDocs(
        get='The offer mix (seed 001\'s "Standard Offer Mix"); version 0 means the defaults apply.',
        update="Replace the offer rules: which offer types, how many offers, ranking weights, "
        "expiry.",
    ),
)
add_kind_routes(
    api,
    config.CONNECTION_RULES,
    docs=RouteDocs(
        get="How journeys connect: minimum and maximum connection times (by default and per "
        "airport), stops, the routing limit; version 0 means the defaults apply.",
        update="Replace the connection rules.",
    ),
)
add_kind_routes(
    api,
    config.FARE_SETTINGS,
    docs=RouteDocs(
        get="Taxes and fees, exchange rates, child and infant ratios, the low-inventory webhook.",
        update="Replace the fare settings.",
    ),
)


# --- run time -------------------------------------------------------------------------------------

runtime = RuntimeRouter(tags=["run time"])


class OfferIdConvertor(Convertor[str]):
    """Offer ids are 32 lower-case hex digits, so ``/v1/offers/search`` is never taken for one."""

    regex = "[0-9a-f]{32}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("offer_id", OfferIdConvertor())


class OfferPath(BaseModel):
    offer_id: str = Field(pattern="^[0-9a-f]{32}$", description="The offer's id (32 hex digits).")


@runtime.post(
    "/v1/offers/search", operation_id="searchOffers", body=SearchRequest, response=SearchResponse
)
async def search_offers(call: Call, body: SearchRequest) -> Response:
    """Priced, ranked offers for every flight of the route and date with seats: flight only and
    bundles, as the offer rules mix them, each with its items, per-passenger prices, taxes, trace,
    score and expiry. The offers are stored: get them, price them again, order them."""
    return respond(await searching.search(call.context, call.snapshot, body, utcnow()))


@runtime.get(
    "/v1/offers/{offer_id:offer_id}", operation_id="getOffer", params=OfferPath, response=OfferRead
)
async def get_offer(call: Call, params: OfferPath) -> Response:
    """An offer as the search showed it: 404 if unknown, 410 once expired."""
    tenant_id = call.snapshot.tenant.id
    offer = await call.context.shop.offer(tenant_id, params.offer_id, now=utcnow())
    return respond(offer.body_json)


@runtime.post(
    "/v1/offers/{offer_id:offer_id}/price",
    operation_id="priceOffer",
    params=OfferPath,
    response=RepriceResponse,
)
async def price_offer(call: Call, params: OfferPath) -> Response:
    """Price the offer again now, with live inventory: the same price while inventory and rules
    are unchanged, else the new one with `price_changed: true`. 410 if expired, 409 if the flight
    can no longer make it."""
    done = await call.context.shop.reprice(call.snapshot, params.offer_id, utcnow())
    return respond(
        {
            "offer_id": done.offer_id,
            "price_changed": done.changed,
            "previous_total": done.previous_total,
            "offer": done.offer,
        }
    )
