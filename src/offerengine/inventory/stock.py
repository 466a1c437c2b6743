"""Live stock: reading the inventory counters (a flight's availability), and their atomic moves —
holding units within the sellable bound, releasing, selling and unselling them, and noting a
bucket's first crossing of its low-stock threshold. The caller's transaction commits or rolls
back every move it made."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.db import upsert
from offerengine.db.base import utcnow
from offerengine.errors import NotFound
from offerengine.inventory import core
from offerengine.inventory.models import Flight, InventoryBucket
from offerengine.inventory.schemas import AvailabilityRead, FlightRead, StockRead
from offerengine.snapshots.core import Snapshot

if TYPE_CHECKING:
    from offerengine.context import AppContext


async def read_stock(
    session: AsyncSession, tenant_id: uuid.UUID, scopes: Iterable[str]
) -> dict[tuple[str, str, str], core.Stock]:
    """The counters of every bucket in these scopes (a bucket never written is absent: full)."""
    wanted = list(set(scopes))
    if not wanted:
        return {}
    return await _counters(session, tenant_id, InventoryBucket.scope.in_(wanted))


async def read_coming_stock(
    session: AsyncSession, tenant_id: uuid.UUID, *, since: timedelta = timedelta(days=1)
) -> dict[tuple[str, str, str], core.Stock]:
    """The counters of every bucket of flights departing from a day ago on, and of every
    airport-day: what shop results may need, in one query."""
    coming = sa.select(Flight.id).where(
        Flight.tenant_id == tenant_id, Flight.departure_at >= utcnow() - since
    )
    return await _counters(
        session,
        tenant_id,
        sa.or_(InventoryBucket.flight_id.is_(None), InventoryBucket.flight_id.in_(coming)),
    )


async def _counters(
    session: AsyncSession, tenant_id: uuid.UUID, which: sa.ColumnElement[bool]
) -> dict[tuple[str, str, str], core.Stock]:
    bucket = InventoryBucket
    rows = await session.execute(
        sa.select(
            bucket.scope,
            bucket.resource_type,
            bucket.resource,
            bucket.capacity,
            bucket.sold,
            bucket.held,
        ).where(bucket.tenant_id == tenant_id, which)
    )
    return {(r[0], r[1], r[2]): core.Stock(r[3], r[4], r[5]) for r in rows}


async def flight_availability(
    ctx: AppContext, snapshot: Snapshot, flight_id: uuid.UUID
) -> AvailabilityRead:
    """Live counters of a flight of the snapshot (404 otherwise): each cabin, and each limited
    product on it (per flight, or the origin's airport-day for products counted so)."""
    flight = snapshot.shopping.flights.by_id.get(flight_id)
    if flight is None:
        raise NotFound(f"No flight {flight_id}.")
    async with ctx.session_factory() as session:
        live = await read_stock(session, snapshot.tenant.id, [flight.scope, flight.day_scope])
        stored = await session.get(Flight, flight_id)
    assert stored is not None
    cabins = [
        _stock_read(
            (flight.scope, core.SEAT, cabin),
            live.get((flight.scope, core.SEAT, cabin)) or core.Stock(seats),
            snapshot,
        )
        for cabin, seats in flight.cabins.items()
    ]
    ancillaries = []
    for product in snapshot.catalog.by_code.values():
        located = core.locate(flight, product)
        if located is None:
            continue
        key, capacity = located
        ancillaries.append(
            _stock_read(key.as_tuple(), live.get(key.as_tuple()) or core.Stock(capacity), snapshot)
        )
    return AvailabilityRead(flight=FlightRead.of(stored), cabins=cabins, ancillaries=ancillaries)


def _stock_read(key: tuple[str, str, str], stock: core.Stock, snapshot: Snapshot) -> StockRead:
    rule = snapshot.shopping.policy.rule_for(key[1], key[2])
    sellable = stock.sellable(rule)
    return StockRead(
        scope=key[0],
        resource_type=key[1],
        resource=key[2],
        capacity=stock.capacity,
        sold=stock.sold,
        held=stock.held,
        overbooking_percentage=str(rule.overbooking_percentage.quantize(Decimal("0.01"))),
        sellable=sellable,
        status=cast(Any, core.availability_status(sellable, rule)),
        min_availability_threshold=rule.min_availability_threshold,
    )


class SoldOut(Exception):
    def __init__(
        self, key: core.ResourceKey, wanted: int, protection: Protection | None = None
    ) -> None:
        said = f"{key.resource_type} {key.resource} ({key.scope}): not {wanted} left"
        if protection is not None and protection.seats > 0:
            said += (
                f" for fare family {protection.family}: it is closed by its booking limit"
                f" ({protection.seats} seat(s) protected for the families above it)"
            )
        super().__init__(said)
        self.key = key
        self.protection = protection


@dataclass(frozen=True, slots=True)
class Protection:
    """Units of a resource kept from a hold: the seats a cabin's forecast protects for the fare
    families above the one sold (``family``)."""

    family: str
    seats: int


@dataclass(frozen=True, slots=True)
class Held:
    bucket_id: uuid.UUID
    quantity: int
    key: core.ResourceKey
    sellable_after: int
    rule: core.InventoryRuleFacts

    def as_json(self) -> dict[str, Any]:
        return {
            "bucket_id": str(self.bucket_id),
            "quantity": self.quantity,
            "scope": self.key.scope,
            "resource_type": self.key.resource_type,
            "resource": self.key.resource,
        }


def _flight_of(scope: str) -> uuid.UUID | None:
    return uuid.UUID(scope.removeprefix("flight:")) if scope.startswith("flight:") else None


async def hold(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    needs: Sequence[tuple[core.ResourceKey, int, int]],
    policy: core.InventoryPolicy,
    protected: Mapping[tuple[str, str, str], Protection] | None = None,
) -> list[Held]:
    """Hold ``quantity`` units of each resource, in key order (so concurrent holders never wait on
    each other in a cycle). Each hold is one conditional UPDATE: it only happens if the units are
    sellable at that instant, less the units ``protected`` keeps from this hold (a fare family's
    booking limit: ``sold + held + n <= limit − P``). Raise :class:`SoldOut` at the first that is
    not; the caller's transaction then rolls back every hold it made, so an order holds all or
    nothing."""
    held: list[Held] = []
    protected = protected or {}
    for key, quantity, capacity in sorted(needs, key=lambda n: n[0].as_tuple()):
        if quantity <= 0:
            continue
        await session.execute(
            upsert.insert(session, InventoryBucket)
            .values(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                scope=key.scope,
                flight_id=_flight_of(key.scope),
                resource_type=key.resource_type,
                resource=key.resource,
                capacity=capacity,
                sold=0,
                held=0,
                low_notified=False,
            )
            .on_conflict_do_nothing(
                index_elements=["tenant_id", "scope", "resource_type", "resource"]
            )
        )
        rule = policy.rule_for(key.resource_type, key.resource)
        bucket = InventoryBucket.__table__.c
        limit = bucket.capacity * (10000 + rule.overbooking_bp) // 10000
        protection = protected.get(key.as_tuple())
        if protection is not None and protection.seats > 0:
            limit = limit - protection.seats
        row = (
            await session.execute(
                sa.update(InventoryBucket)
                .where(
                    bucket.tenant_id == tenant_id,
                    bucket.scope == key.scope,
                    bucket.resource_type == key.resource_type,
                    bucket.resource == key.resource,
                    bucket.sold + bucket.held + quantity <= limit,
                )
                .values(held=bucket.held + quantity)
                .returning(bucket.id, bucket.capacity, bucket.sold, bucket.held)
                .execution_options(synchronize_session=False)
            )
        ).first()
        if row is None:
            raise SoldOut(key, quantity, protection)
        sellable = core.Stock(row[1], row[2], row[3]).sellable(rule)
        held.append(Held(row[0], quantity, key, sellable, rule))
    return held


async def release(session: AsyncSession, holds: Iterable[Mapping[str, Any]], *, sell: bool) -> None:
    """Give held units back, or (``sell``) turn them sold."""
    await _move(session, holds, "sell" if sell else "release")


async def unsell(session: AsyncSession, holds: Iterable[Mapping[str, Any]]) -> None:
    """Give sold units back (a confirmed order cancelled)."""
    await _move(session, holds, "unsell")


async def _move(session: AsyncSession, holds: Iterable[Mapping[str, Any]], how: str) -> None:
    """Each move is guarded so that a counter never goes below zero, even if repeated; a bucket
    that gets units back may warn of low stock again (``low_notified`` clears)."""
    bucket = InventoryBucket.__table__.c
    for h in sorted(holds, key=lambda h: str(h["bucket_id"])):
        quantity = int(h["quantity"])
        source = bucket.sold if how == "unsell" else bucket.held
        values: dict[str, Any] = {source.name: source - quantity}
        if how == "sell":
            values["sold"] = bucket.sold + quantity
        else:
            values["low_notified"] = False
        await session.execute(
            sa.update(InventoryBucket)
            .where(bucket.id == uuid.UUID(str(h["bucket_id"])), source >= quantity)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


async def mark_low(session: AsyncSession, bucket_id: uuid.UUID) -> bool:
    """Note that a bucket went below its threshold; True only for the first caller (one event per
    crossing; the flag clears when units come back)."""
    bucket = InventoryBucket.__table__.c
    result = await session.execute(
        sa.update(InventoryBucket)
        .where(bucket.id == bucket_id, bucket.low_notified.is_(False))
        .values(low_notified=True)
        .returning(bucket.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None
