"""Orders: made from an offer, holding its inventory all or nothing, then confirmed, cancelled or
expired. Every status change is a conditional UPDATE on the order's current status, so two
requests (or a request and the sweeper) can never both release or sell the same holds. A
campaign's grant the offer applied is redeemed in the order's transaction and given back when the
order is cancelled or expires (:mod:`offerengine.orders.grants`)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.errors import Conflict, FieldError, Gone, Invalid, NotFound, raise_if_any
from offerengine.events.models import Event
from offerengine.inventory import stock as inventory
from offerengine.loyalty import points as loyalty
from offerengine.observability.logging import get_logger
from offerengine.orders import grants as redeeming
from offerengine.orders.models import Order
from offerengine.orders.schemas import OrderCreate
from offerengine.revenue import limits
from offerengine.shopping import service as shopping
from offerengine.shopping.models import Offer, OfferBody, StoredSearch
from offerengine.snapshots.core import Snapshot

log = get_logger("offerengine.orders")
HELD, CONFIRMED, CANCELLED, EXPIRED = "HELD", "CONFIRMED", "CANCELLED", "EXPIRED"


def request_hash(body: OrderCreate) -> str:
    # Without points, the hash of the request as it was before orders could take them.
    unset = {"pay_with_points"} if body.pay_with_points is None else None
    data = body.model_dump(mode="json", exclude=unset)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_passengers(offer: Offer, body: OrderCreate) -> list[FieldError]:
    wanted = offer.basis["search"]["passengers"]
    given = {"ADULT": 0, "CHILD": 0, "INFANT": 0}
    for p in body.passengers:
        given[p.type] += 1
    expected = {"ADULT": wanted["adults"], "CHILD": wanted["children"], "INFANT": wanted["infants"]}
    if given == expected:
        return []
    said = ", ".join(f"{n} {k.lower()}" for k, n in expected.items() if n)
    return [FieldError(("body", "passengers"), f"the offer is for {said}; got {given}")]


def _select(
    offer: Offer, selected: Sequence[str] | None
) -> tuple[list[dict[str, Any]], list[FieldError]]:
    items: list[dict[str, Any]] = offer.body["items"]
    if selected is None:
        return items, []
    optional = {i["item_id"] for i in items if not i["required"]}
    errors = [
        FieldError(("body", "selected_optional_items", n), f"{item!r} is not an optional item")
        for n, item in enumerate(selected)
        if item not in optional
    ]
    return [i for i in items if i["required"] or i["item_id"] in selected], errors


@dataclass(frozen=True, slots=True)
class Made:
    order: Order
    created: bool  # False: the same request was made before with this Idempotency-Key
    low_inventory: tuple[dict[str, Any], ...] = ()  # notices to send once committed


async def create(
    session: AsyncSession,
    *,
    snapshot: Snapshot,
    body: OrderCreate,
    idempotency_key: str,
    now: datetime,
    offer: Offer | None,
    missing: Exception | None = None,
) -> Made:
    """``offer`` was found before this transaction began (see ``booking.create``); ``missing`` is why it
    was not (404, 410), raised unless the same request made an order before."""
    tenant_id = snapshot.tenant.id
    digest = request_hash(body)
    earlier = await _earlier(session, tenant_id, idempotency_key, digest)
    if earlier is not None:
        return Made(await settle(session, earlier, now=now), created=False)
    if offer is None:
        raise missing or NotFound(f"No offer {body.offer_id}.")
    items, errors = _select(offer, body.selected_optional_items)
    raise_if_any(_check_passengers(offer, body) + errors)
    order_id = uuid.uuid4()
    price, total = _price(offer, items)
    try:  # the offer's personal coupons, redeemed first: a 409 here has written nothing
        price, total = await redeeming.redeem(
            session,
            tenant_id=tenant_id,
            order_id=order_id,
            customer_id=_customer_id(offer.basis),
            items=items,
            price=price,
            total_minor=total,
            currency=offer.currency,
            now=now,
        )
    except Conflict:
        earlier = await _earlier(session, tenant_id, idempotency_key, digest)
        if earlier is not None:  # the same request, at the same time, redeemed it first
            return Made(await settle(session, earlier, now=now), created=False)
        raise
    held = await _hold(session, snapshot, offer, items)
    hold_seconds = min((h.rule.hold_duration_seconds for h in held), default=900)
    order = Order(
        id=order_id,
        tenant_id=tenant_id,
        offer_id=offer.id,
        offer_type=offer.offer_type,
        customer_id=_customer_id(offer.basis),
        status=HELD,
        passengers=[p.model_dump(mode="json", exclude_none=True) for p in body.passengers],
        items=items,
        price=price,
        total_minor=total,
        currency=offer.currency,
        holds=[h.as_json() for h in held],
        hold_expires_at=now + timedelta(seconds=hold_seconds),
        idempotency_key=idempotency_key,
        request_hash=digest,
        created_at=now,
        updated_at=now,
    )
    await loyalty.check_benefits(
        session, tenant_id=tenant_id, customer_id=order.customer_id, items=items
    )
    if body.pay_with_points is not None:  # taken now, given back if the order ends unpaid
        shown, order.total_minor = await loyalty.redeem_for_order(
            session,
            tenant_id=tenant_id,
            order_id=order.id,
            customer_id=order.customer_id,
            currency=order.currency,
            total_minor=total,
            request=body.pay_with_points,
            now=now,
        )
        order.price = {
            **price,
            "points": shown,
            "total": money.format_amount(order.total_minor, order.currency),
        }
    session.add(order)
    made = _event("order", order, now)
    made.decision_id = _search_uuid(offer.search_id)  # shop's conversion model learns from it
    session.add(made)
    await shopping.count_ordered(session, tenant_id, offer.offer_type, offer.segment)
    notices = await _mark_low(session, snapshot, held, now)
    await session.flush()
    return Made(order, created=True, low_inventory=tuple(notices))


async def _earlier(
    session: AsyncSession, tenant_id: uuid.UUID, idempotency_key: str, digest: str
) -> Order | None:
    """The order this Idempotency-Key made before, if any; 422 when it was another request."""
    earlier = await session.scalar(
        sa.select(Order).where(
            Order.tenant_id == tenant_id, Order.idempotency_key == idempotency_key
        )
    )
    if earlier is not None and earlier.request_hash != digest:
        raise Invalid.field(
            ("header", "Idempotency-Key"),
            "was used for a different request; use a new key for a new order",
        )
    return earlier


async def _hold(
    session: AsyncSession, snapshot: Snapshot, offer: Offer, items: list[dict[str, Any]]
) -> list[inventory.Held]:
    """Hold the inventory the chosen items need (the cabin's seats, the kept products), all or
    nothing; 409 when some is sold out, or when the cabin's forecast closed the fare family the
    order sells (its controls are read here, in the order's transaction, just before the hold)."""
    kept = {i["product_code"] for i in items}
    kept_ids = {i["item_id"] for i in items}  # a journey's ancillary needs name their item
    needs = shopping.needs_of(
        [
            n
            for n in offer.basis["needs"]
            if (n["resource_type"] == "SEAT" and n["resource"] == offer.body["cabin"])
            or (n["resource"] in kept and n.get("item_id", "") in kept_ids | {""})
        ]
    )
    controls = await limits.read_controls(
        session, snapshot.tenant.id, limits.flights_of(key.scope for key, _, _ in needs)
    )
    family = _fare_family(items)
    protected = {
        key: inventory.Protection(c.family(family).code, c.family(family).protected)
        for key, c in controls.items()
    }
    try:
        return await inventory.hold(
            session,
            tenant_id=snapshot.tenant.id,
            needs=needs,
            policy=snapshot.shopping.policy,
            protected=protected,
        )
    except inventory.SoldOut as exc:
        raise Conflict(f"Offer {offer.id} can no longer be booked: {exc}.") from None


def _fare_family(items: Sequence[dict[str, Any]]) -> str | None:
    """The fare family the flight item names; None (the one sold at the cabin fare) when none."""
    for item in items:
        if item.get("type") == "FLIGHT" and item.get("fare_family"):
            return str(item["fare_family"])
    return None


def _price(offer: Offer, items: list[dict[str, Any]]) -> tuple[dict[str, Any], int]:
    """The order's price and its total in minor units: the offer's, its total made again from
    the chosen items when optional ones were left out."""
    amounts = [i["price"]["total"] for i in items] + [offer.body["price"]["tax_total"]]
    total = sum(money.to_minor(Decimal(a), offer.currency) for a in amounts)
    price = dict(offer.body["price"])
    if len(items) != len(offer.body["items"]):
        price = {
            **price,
            "total": money.format_amount(total, offer.currency),
            "note": "optional items left out",
        }
    return price, total


async def _mark_low(
    session: AsyncSession, snapshot: Snapshot, held: Sequence[inventory.Held], now: datetime
) -> list[dict[str, Any]]:
    """Record a ``low_inventory`` event for each bucket the holds took below its threshold (once
    per bucket); the notices to send once committed, for the rules that ask for them."""
    notices = []
    for h in held:
        if h.sellable_after < h.rule.min_availability_threshold and await inventory.mark_low(
            session, h.bucket_id
        ):
            event = low_inventory_event(snapshot.tenant.id, h, now)
            session.add(event)
            if h.rule.notify_on_low_inventory:
                notices.append(
                    {"type": "low_inventory", "tenant": snapshot.tenant.code, **event.properties}
                )
    return notices


def _search_uuid(search_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(search_id)
    except ValueError:
        return None


def _customer_id(basis: dict[str, Any]) -> str | None:
    found = (basis["search"].get("customer") or {}).get("id")
    return None if found is None else str(found)


def _event(kind: str, order: Order, now: datetime) -> Event:
    """What the order tells experiments and learning: ``order`` when made, ``purchase`` (with
    its value) when confirmed, for the customer of the search."""
    return Event(
        id=uuid.uuid4(),
        tenant_id=order.tenant_id,
        type=kind,
        customer_id=order.customer_id,
        value=money.from_minor(order.total_minor, order.currency),
        currency=order.currency,
        offer_id=order.offer_id,
        properties={"order_id": str(order.id), "offer_type": order.offer_type},
        occurred_at=now,
        received_at=now,
    )


def low_inventory_event(tenant_id: uuid.UUID, h: inventory.Held, now: datetime) -> Event:
    return Event(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        type="low_inventory",
        properties={
            "scope": h.key.scope,
            "resource_type": h.key.resource_type,
            "resource": h.key.resource,
            "sellable": h.sellable_after,
            "threshold": h.rule.min_availability_threshold,
        },
        occurred_at=now,
        received_at=now,
    )


async def _move(
    session: AsyncSession, order: Order, to: str, *, now: datetime, **values: Any
) -> bool:
    """Change the order's status if it is still what we read; True if this call changed it."""
    column = {CONFIRMED: "confirmed_at", CANCELLED: "cancelled_at", EXPIRED: "expired_at"}[to]
    result = await session.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.status == order.status)
        .values(status=to, updated_at=now, **{column: now}, **values)
        .returning(Order.id)
        .execution_options(synchronize_session=False)
    )
    moved = result.first() is not None
    await session.refresh(order)
    return moved


async def settle(session: AsyncSession, order: Order, *, now: datetime) -> Order:
    """The check on access: a HELD order past its hold expires now, giving its units back."""
    expired = order.status == HELD and order.hold_expires_at <= now
    if expired and await _move(session, order, EXPIRED, now=now):
        await inventory.release(session, order.holds, sell=False)
        await loyalty.reverse_for_order(
            session, tenant_id=order.tenant_id, order_id=order.id, now=now
        )
        await redeeming.give_back(session, tenant_id=order.tenant_id, order_id=order.id, now=now)
    return order


async def confirm(
    session: AsyncSession, order: Order, *, payment_reference: str, now: datetime
) -> Order:
    await settle(session, order, now=now)
    if order.status == CONFIRMED:
        if order.payment_reference == payment_reference:
            return order  # the same confirmation again
        raise Conflict(f"Order {order.id} is confirmed already, with another payment reference.")
    if order.status == EXPIRED:
        raise Gone(f"Order {order.id}'s hold expired at {order.hold_expires_at.isoformat()}.")
    if order.status != HELD:
        raise Conflict(f"Order {order.id} is {order.status}; only a HELD order can be confirmed.")
    if not await _move(session, order, CONFIRMED, now=now, payment_reference=payment_reference):
        raise Conflict(f"Order {order.id} changed meanwhile; read it again.")
    await inventory.release(session, order.holds, sell=True)
    session.add(_event("purchase", order, now))
    await loyalty.earn_for_order(
        session,
        tenant_id=order.tenant_id,
        order_id=order.id,
        customer_id=order.customer_id,
        items=order.items,
        currency=order.currency,
        price=order.price,
        now=now,
    )
    return order


async def cancel(session: AsyncSession, order: Order, *, now: datetime) -> Order:
    await settle(session, order, now=now)
    if order.status in (CANCELLED, EXPIRED):
        return order
    was = order.status
    if not await _move(session, order, CANCELLED, now=now):
        raise Conflict(f"Order {order.id} changed meanwhile; read it again.")
    if was == HELD:
        await inventory.release(session, order.holds, sell=False)
    else:
        await inventory.unsell(session, order.holds)
    await loyalty.reverse_for_order(session, tenant_id=order.tenant_id, order_id=order.id, now=now)
    await redeeming.give_back(session, tenant_id=order.tenant_id, order_id=order.id, now=now)
    return order


async def list_orders(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    status: str | None,
    since: datetime | None,
    limit: int,
) -> Sequence[Order]:
    stmt = sa.select(Order).where(Order.tenant_id == tenant_id)
    if status:
        stmt = stmt.where(Order.status == status)
    if since:
        stmt = stmt.where(Order.created_at >= since)
    return (
        await session.scalars(stmt.order_by(Order.created_at.desc(), Order.id).limit(limit))
    ).all()


async def sweep(session: AsyncSession, *, now: datetime, limit: int = 500) -> int:
    """Expire HELD orders past their hold and give their units back; how many."""
    stmt = (
        sa.select(Order)
        .where(Order.status == HELD, Order.hold_expires_at <= now)
        .order_by(Order.hold_expires_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    expired = 0
    for order in (await session.scalars(stmt)).all():
        if await _move(session, order, EXPIRED, now=now):
            await inventory.release(session, order.holds, sell=False)
            await loyalty.reverse_for_order(
                session, tenant_id=order.tenant_id, order_id=order.id, now=now
            )
            await redeeming.give_back(
                session, tenant_id=order.tenant_id, order_id=order.id, now=now
            )
            expired += 1
    if expired:
        log.info("orders_expired", count=expired)
    return expired


OFFER_RETENTION = timedelta(days=1)


async def prune_offers(session: AsyncSession, *, now: datetime, limit: int = 5000) -> int:
    """Delete searches' offers, and the bodies they shared, that expired more than a day ago
    (orders keep what they were made from); how many searches' offers went."""
    deleted = 0
    for table in (StoredSearch, OfferBody):
        old = (
            sa.select(table.id)
            .where(table.expires_at < now - OFFER_RETENTION)
            .limit(limit)
            .scalar_subquery()
        )
        result = await session.execute(
            sa.delete(table).where(table.id.in_(old)).execution_options(synchronize_session=False)
        )
        if table is StoredSearch:
            deleted = int(getattr(result, "rowcount", 0) or 0)
    return deleted
