"""Orders (run time): create from an offer, confirm, cancel, read."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field
from starlette.responses import Response

from offerengine.clock import utcnow
from offerengine.fields import Timestamp
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.orders import booking
from offerengine.orders.schemas import OrderConfirm, OrderCreate, OrderRead, OrderStatus
from offerengine.pagination import Page

runtime = RuntimeRouter(tags=["orders"])


class OrderPath(BaseModel):
    id: uuid.UUID = Field(description="The order's id.")


class OrderHeaders(BaseModel):
    idempotency_key: str = Field(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Your unique key for this order: the same key and body give the same order.",
    )


class OrderQuery(BaseModel):
    status: OrderStatus | None = None
    since: Timestamp | None = Field(default=None, description="Created at or after.")
    limit: int = Field(default=100, ge=1, le=500)


@runtime.post(
    "/v1/orders",
    operation_id="createOrder",
    status=201,
    headers=OrderHeaders,
    body=OrderCreate,
    response=OrderRead,
)
async def create_order(call: Call, headers: OrderHeaders, body: OrderCreate) -> Response:
    """Book an offer: the order is HELD, holding every inventory unit it needs (all or none)
    until `hold_expires_at`. 409 if a unit is gone, 410 if the offer expired. A repeat with the
    same Idempotency-Key and body answers the same order (200); another body is a 422."""
    booked = await booking.create(
        call.context, call.snapshot, body, headers.idempotency_key, utcnow()
    )
    return respond(
        booked.order,
        status=201 if booked.created else 200,
        headers={"Location": f"/v1/orders/{booked.order.id}"},
    )


@runtime.get("/v1/orders", operation_id="listOrders", query=OrderQuery, response=Page[OrderRead])
async def list_orders(call: Call, query: OrderQuery) -> Response:
    """The tenant's orders, newest first."""
    page = await booking.list_orders(
        call.context, call.snapshot, status=query.status, since=query.since, limit=query.limit
    )
    return respond(page)


@runtime.get("/v1/orders/{id:uuid}", operation_id="getOrder", params=OrderPath, response=OrderRead)
async def get_order(call: Call, params: OrderPath) -> Response:
    """An order; a HELD order past its hold is EXPIRED from this read on."""
    return respond(await booking.get(call.context, call.snapshot, params.id, utcnow()))


@runtime.post(
    "/v1/orders/{id:uuid}/confirm",
    operation_id="confirmOrder",
    params=OrderPath,
    body=OrderConfirm,
    raw=True,  # checked by the use case once the order is found: a 404 before a 422
    response=OrderRead,
)
async def confirm_order(call: Call, params: OrderPath, body: bytes) -> Response:
    """HELD → CONFIRMED: the held units become sold. 410 if the hold expired first."""
    return respond(await booking.confirm(call.context, call.snapshot, params.id, body, utcnow()))


@runtime.post(
    "/v1/orders/{id:uuid}/cancel", operation_id="cancelOrder", params=OrderPath, response=OrderRead
)
async def cancel_order(call: Call, params: OrderPath) -> Response:
    """→ CANCELLED, giving back what the order held (or had bought). Cancelling again is a no-op."""
    return respond(await booking.cancel(call.context, call.snapshot, params.id, utcnow()))
