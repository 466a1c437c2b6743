"""NDC 21.3 messages as JSON, at run time: ``POST /v1/ndc/air-shopping``, ``offer-price``,
``order-create``, ``order-retrieve`` and ``order-cancel``, for a tenant's runtime key.

A refused message answers as every 4xx of the API does, an RFC 9457 ``application/problem+json``
document naming the field (``errors[].loc``), and carries the NDC response root element with
its ``Error`` entries beside it (``IATA_AirShoppingRS: {Error: [{Code, DescText, TagText}]}``),
so that an NDC client finds the shape it knows and any client the API's (docs/ndc.md)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from offerengine.clock import utcnow
from offerengine.errors import Invalid, OfferEngineError
from offerengine.http import problems
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.ndc import core, service
from offerengine.ndc import schemas as ndc

runtime = RuntimeRouter(tags=["ndc"])


def _refusal(root: str) -> Callable[[OfferEngineError, Request], Response]:
    """The problem document of a refused message, with ``root``'s NDC ``Error`` entries."""

    def refuse(exc: OfferEngineError, _request: Request) -> Response:
        status = problems.status_for(exc)
        fields = [e.as_dict() for e in exc.errors]
        headers = (
            {"WWW-Authenticate": "Bearer"}
            if status == 401
            else {"Retry-After": "1"}
            if status == 503
            else None
        )
        return problems.problem(
            status,
            exc.detail,
            code=exc.code,
            title=exc.title,
            errors_=fields if fields or isinstance(exc, Invalid) else None,
            headers=headers,
            **exc.extensions,
            **{root: {"Error": core.errors(status, exc.detail, fields)}},
        )

    return refuse


class OrderCreateHeaders(BaseModel):
    idempotency_key: str | None = Field(
        default=None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Your key for this order; without it the message itself is the key.",
    )


@runtime.post(
    "/v1/ndc/air-shopping",
    operation_id="ndcAirShopping",
    body=ndc.AirShoppingRQ,
    response=ndc.AirShoppingRS,
    refusal=_refusal("IATA_AirShoppingRS"),
)
async def air_shopping(call: Call, body: ndc.AirShoppingRQ) -> Response:
    """NDC AirShopping: offers for one to four OriginDestCriteria (one-way, round trip, open
    jaw, multi-city) with connections, as `IATA_AirShoppingRS`."""
    return respond(await service.air_shopping(call.context, call.snapshot, body, utcnow()))


@runtime.post(
    "/v1/ndc/offer-price",
    operation_id="ndcOfferPrice",
    body=ndc.OfferPriceRQ,
    response=ndc.OfferPriceRS,
    refusal=_refusal("IATA_OfferPriceRS"),
)
async def offer_price(call: Call, body: ndc.OfferPriceRQ) -> Response:
    """NDC OfferPrice: the selected offer items priced again now (a Warning when the price
    changed), as `IATA_OfferPriceRS`."""
    return respond(await service.offer_price(call.context, call.snapshot, body, utcnow()))


@runtime.post(
    "/v1/ndc/order-create",
    operation_id="ndcOrderCreate",
    status=201,
    headers=OrderCreateHeaders,
    body=ndc.OrderCreateRQ,
    response=ndc.OrderViewRS,
    refusal=_refusal("IATA_OrderViewRS"),
)
async def order_create(
    call: Call, headers: OrderCreateHeaders, body: ndc.OrderCreateRQ
) -> Response:
    """NDC OrderCreate: an order of the selected offer, HELD with every unit it needs until its
    PaymentTimeLimitDateTime, as `IATA_OrderViewRS` (201; 200 when the same message, or the
    same Idempotency-Key, made it before)."""
    answer, created = await service.order_create(
        call.context, call.snapshot, body, headers.idempotency_key, utcnow()
    )
    return respond(answer, status=201 if created else 200)


@runtime.post(
    "/v1/ndc/order-retrieve",
    operation_id="ndcOrderRetrieve",
    body=ndc.OrderRetrieveRQ,
    response=ndc.OrderViewRS,
    refusal=_refusal("IATA_OrderViewRS"),
)
async def order_retrieve(call: Call, body: ndc.OrderRetrieveRQ) -> Response:
    """NDC OrderRetrieve: an order by OrderID, as `IATA_OrderViewRS`."""
    return respond(await service.order_retrieve(call.context, call.snapshot, body, utcnow()))


@runtime.post(
    "/v1/ndc/order-cancel",
    operation_id="ndcOrderCancel",
    body=ndc.OrderCancelRQ,
    response=ndc.OrderCancelRS,
    refusal=_refusal("IATA_OrderCancelRS"),
)
async def order_cancel(call: Call, body: ndc.OrderCancelRQ) -> Response:
    """NDC OrderCancel: the order cancelled, giving back what it held, as
    `IATA_OrderCancelRS` (cancelling again changes nothing)."""
    return respond(await service.order_cancel(call.context, call.snapshot, body, utcnow()))
