"""Orders (run time): create from an offer, confirm, cancel, read."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Header, Query, Request, Response, status

from offerengine.auth.scoping import owned_loader
from offerengine.context import AppContext
from offerengine.db.base import utcnow
from offerengine.db.session import write_transaction
from offerengine.deps import DbSession
from offerengine.errors import Gone, NotFound
from offerengine.fields import Timestamp
from offerengine.http.routing import router
from offerengine.orders import service
from offerengine.orders.models import Order
from offerengine.orders.schemas import OrderConfirm, OrderCreate, OrderRead, OrderStatus
from offerengine.pagination import Page
from offerengine.snapshots.deps import RuntimeSnapshot

api = router(tags=["orders"])
PathOrder = Annotated[Order, Depends(owned_loader(Order, "order"))]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Your unique key for this order: the same key and body give the same order.",
    ),
]


def _forget_stock(request: Request, snapshot: RuntimeSnapshot) -> None:
    cast(AppContext, request.app.state.context).shop.forget_stock(snapshot.tenant.id)


@api.post("/v1/orders", status_code=status.HTTP_201_CREATED, operation_id="createOrder")
async def create_order(
    request: Request,
    body: OrderCreate,
    snapshot: RuntimeSnapshot,
    idempotency_key: IdempotencyKey,
    response: Response,
) -> OrderRead:
    """Book an offer: the order is HELD, holding every inventory unit it needs (all or none)
    until `hold_expires_at`. 409 if a unit is gone, 410 if the offer expired. A repeat with the
    same Idempotency-Key and body answers the same order (200); another body is a 422."""
    ctx = cast(AppContext, request.app.state.context)
    now = utcnow()
    # The offer is found before the write transaction: on SQLite that transaction holds the write
    # lock, which the worker that made a very recent offer needs to store it.
    offer, missing = None, None
    try:
        offer = await ctx.shop.offer(snapshot.tenant.id, body.offer_id, now=now)
    except (NotFound, Gone) as exc:
        missing = exc
    async with write_transaction(ctx) as session:
        made = await service.create(
            session,
            snapshot=snapshot,
            body=body,
            idempotency_key=idempotency_key,
            now=now,
            offer=offer,
            missing=missing,
        )
    if not made.created:
        response.status_code = status.HTTP_200_OK
    else:
        _forget_stock(request, snapshot)
        webhook = snapshot.shopping.webhook
        if webhook is not None:
            for notice in made.low_inventory:
                ctx.notifier.send(webhook, {**notice, "occurred_at": now.isoformat()})
    response.headers["Location"] = f"/v1/orders/{made.order.id}"
    return OrderRead.of(made.order)


@api.get("/v1/orders", operation_id="listOrders")
async def list_orders(
    snapshot: RuntimeSnapshot,
    session: DbSession,
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    since: Annotated[Timestamp | None, Query(description="Created at or after.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[OrderRead]:
    """The tenant's orders, newest first."""
    rows = await service.list_orders(
        session, tenant_id=snapshot.tenant.id, status=status_, since=since, limit=limit
    )
    return Page[OrderRead](items=[OrderRead.of(o) for o in rows], next_cursor=None)


@api.get("/v1/orders/{id:uuid}", operation_id="getOrder")
async def get_order(request: Request, order: PathOrder, _: RuntimeSnapshot) -> OrderRead:
    """An order; a HELD order past its hold is EXPIRED from this read on."""
    now = utcnow()
    if order.status == service.HELD and order.hold_expires_at <= now:
        # Expiring writes: in a write transaction of its own (a read one must not be upgraded).
        async with write_transaction(cast(AppContext, request.app.state.context)) as session:
            current = await session.get(Order, order.id)
            assert current is not None  # orders are never deleted
            order = await service.settle(session, current, now=now)
    return OrderRead.of(order)


@api.post("/v1/orders/{id:uuid}/confirm", operation_id="confirmOrder")
async def confirm_order(
    request: Request,
    order: PathOrder,
    snapshot: RuntimeSnapshot,
    session: DbSession,
    body: OrderConfirm,
) -> OrderRead:
    """HELD → CONFIRMED: the held units become sold. 410 if the hold expired first."""
    done = await service.confirm(
        session, order, payment_reference=body.payment_reference, now=utcnow()
    )
    _forget_stock(request, snapshot)
    return OrderRead.of(done)


@api.post("/v1/orders/{id:uuid}/cancel", operation_id="cancelOrder")
async def cancel_order(
    request: Request, order: PathOrder, snapshot: RuntimeSnapshot, session: DbSession
) -> OrderRead:
    """→ CANCELLED, giving back what the order held (or had bought). Cancelling again is a no-op."""
    done = await service.cancel(session, order, now=utcnow())
    _forget_stock(request, snapshot)
    return OrderRead.of(done)
