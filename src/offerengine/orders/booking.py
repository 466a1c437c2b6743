"""Orders at run time, the use cases: book an offer, list and read orders, confirm and cancel one.

Each owns its database work: reads in a session of their own, changes in one short write
transaction (:func:`~offerengine.db.session.write_transaction`), committed before the answer;
a collision with a write made at the same time is a 409 (a duplicate row, or a stale versioned
row, as the admin's unit of work answers). An order is found only among the caller's tenant's
(404 otherwise). Once inventory counters changed, this worker's shop forgets the stock it read.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.db.session import write_transaction
from offerengine.errors import FieldError, Gone, Invalid, MalformedInput, NotFound
from offerengine.orders import service
from offerengine.orders.models import Order
from offerengine.orders.schemas import OrderConfirm, OrderCreate, OrderRead, OrderStatus
from offerengine.pagination import Page
from offerengine.snapshots.core import Snapshot
from offerengine.validation import validate
from offerengine.webhooks import service as webhooks

if TYPE_CHECKING:
    from offerengine.context import AppContext


@dataclass(frozen=True, slots=True)
class Booked:
    order: OrderRead
    created: bool  # False: the same request was made before with this Idempotency-Key


async def create(
    ctx: AppContext, snapshot: Snapshot, body: OrderCreate, idempotency_key: str, now: datetime
) -> Booked:
    """Book the offer (see :func:`offerengine.orders.service.create`). Its low-inventory notices
    go into the webhook outbox in the order's own transaction (stored with it, or not at all);
    once committed, a new order makes the shop read stock again and wakes the deliverer."""
    tenant_id = snapshot.tenant.id
    # The offer is found before the write transaction: on SQLite that transaction holds the write
    # lock, which the worker that made a very recent offer needs to store it.
    offer, missing = None, None
    try:
        offer = await ctx.shop.offer(tenant_id, body.offer_id, now=now)
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
        queued = _queue_notices(ctx, session, snapshot, made, now)
        booked = Booked(OrderRead.of(made.order), made.created)
    if made.created:
        ctx.shop.forget_stock(tenant_id)
    if queued:
        ctx.webhooks.wake()
    return booked


def _queue_notices(
    ctx: AppContext, session: AsyncSession, snapshot: Snapshot, made: service.Made, now: datetime
) -> int:
    """Put the order's low-inventory notices into the webhook outbox (if the tenant has a
    webhook), in the order's transaction; how many."""
    webhook = snapshot.shopping.webhook
    if webhook is None or not made.created:
        return 0
    for notice in made.low_inventory:
        webhooks.enqueue(
            session,
            tenant_id=snapshot.tenant.id,
            event_type="low_inventory",
            url=webhook,
            payload={**notice, "occurred_at": now.isoformat()},
            now=now,
            attempt_limit=ctx.settings.webhook_max_attempts,
        )
    return len(made.low_inventory)


async def list_orders(
    ctx: AppContext,
    snapshot: Snapshot,
    *,
    status: OrderStatus | None,
    since: datetime | None,
    limit: int,
) -> Page[OrderRead]:
    """The tenant's orders, newest first."""
    async with ctx.session_factory() as session:
        rows = await service.list_orders(
            session, tenant_id=snapshot.tenant.id, status=status, since=since, limit=limit
        )
        return Page[OrderRead](items=[OrderRead.of(o) for o in rows], next_cursor=None)


async def get(ctx: AppContext, snapshot: Snapshot, order_id: uuid.UUID, now: datetime) -> OrderRead:
    """An order; a HELD order past its hold expires now, giving its units back."""
    async with ctx.session_factory() as session:
        order = await _owned(session, snapshot.tenant.id, order_id)
    if order.status == service.HELD and order.hold_expires_at <= now:
        # Expiring writes: in a write transaction of its own (a read one must not be upgraded).
        async with write_transaction(ctx) as session:
            current = await session.get(Order, order.id)
            assert current is not None  # orders are never deleted
            order = await service.settle(session, current, now=now)
    return OrderRead.of(order)


async def confirm(
    ctx: AppContext, snapshot: Snapshot, order_id: uuid.UUID, body: bytes, now: datetime
) -> OrderRead:
    """HELD → CONFIRMED, with the payment reference of ``body`` (the request's JSON bytes).

    The body is checked as the admin routes check theirs: broken JSON is a 400 first, then an
    order that is not the tenant's a 404, and only then a bad or missing field a 422."""
    data = _decoded(body)
    tenant_id = snapshot.tenant.id
    async with write_transaction(ctx) as session:
        order = await _owned(session, tenant_id, order_id)
        if data is None:
            raise Invalid.field(("body",), "Field required", "missing")
        confirmation = validate(OrderConfirm, data)
        done = await service.confirm(
            session, order, payment_reference=confirmation.payment_reference, now=now
        )
        read = OrderRead.of(done)
    ctx.shop.forget_stock(tenant_id)
    return read


async def cancel(
    ctx: AppContext, snapshot: Snapshot, order_id: uuid.UUID, now: datetime
) -> OrderRead:
    """→ CANCELLED, giving back what the order held (or had bought); again, a no-op."""
    tenant_id = snapshot.tenant.id
    async with write_transaction(ctx) as session:
        order = await _owned(session, tenant_id, order_id)
        read = OrderRead.of(await service.cancel(session, order, now=now))
    ctx.shop.forget_stock(tenant_id)
    return read


async def _owned(session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID) -> Order:
    found = await session.scalar(
        sa.select(Order).where(Order.id == order_id, Order.tenant_id == tenant_id)
    )
    if found is None:
        raise NotFound(f"No order {order_id}.")
    return found


def _decoded(body: bytes) -> Any:
    """The JSON of ``body`` (None if empty); 400 if it is not JSON."""
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedInput(
            "The request body is not valid JSON.",
            [FieldError(("body",), "not valid JSON", "json_invalid")],
        ) from exc
