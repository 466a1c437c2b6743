"""Flights, schedules, inventory rules, and the atomic moves of inventory counters."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.catalog.models import Product
from offerengine.db import upsert
from offerengine.db.base import utcnow
from offerengine.errors import FieldError, Loc, NotFound, raise_if_any
from offerengine.inventory import core
from offerengine.inventory.models import Flight, InventoryBucket, InventoryRule
from offerengine.inventory.schemas import (
    AvailabilityRead,
    FlightIn,
    FlightRead,
    InventoryRuleIn,
    InventoryRuleRead,
    ScheduleIn,
    StockRead,
)
from offerengine.network import core as network
from offerengine.snapshots import service as snapshots
from offerengine.snapshots.core import Snapshot
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning

if TYPE_CHECKING:
    from offerengine.context import AppContext

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


# --- flights ----------------------------------------------------------------------------------


def _airport_errors(origin: str, destination: str, loc: Loc) -> list[FieldError]:
    return [
        FieldError((*loc, name), f"{code!r} is not a known IATA airport")
        for name, code in (("origin", origin), ("destination", destination))
        if network.lookup(code) is None
    ]


async def _product_errors(
    session: AsyncSession, tenant_id: uuid.UUID, codes: Iterable[tuple[Loc, str]]
) -> list[FieldError]:
    wanted = list(codes)
    if not wanted:
        return []
    known = set(
        await session.scalars(
            sa.select(Product.product_code).where(
                Product.tenant_id == tenant_id,
                Product.product_code.in_({code for _, code in wanted}),
            )
        )
    )
    return [
        FieldError(loc, f"no product {code!r} in this tenant")
        for loc, code in wanted
        if code not in known
    ]


def _instant(local: datetime, airport: str) -> datetime:
    facts = network.lookup(airport)
    assert facts is not None  # checked before
    return local.replace(tzinfo=ZoneInfo(facts.timezone))


def _flight(tenant_id: uuid.UUID, data: FlightIn, schedule_id: uuid.UUID | None = None) -> Flight:
    departure = _instant(data.departure_local, data.origin)
    arrival = _instant(data.arrival_local, data.destination)
    return Flight(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        carrier=data.carrier,
        flight_number=data.flight_number,
        origin=data.origin,
        destination=data.destination,
        departure_date=data.departure_local.date(),
        departure_local=data.departure_local.isoformat(timespec="minutes"),
        arrival_local=data.arrival_local.isoformat(timespec="minutes"),
        departure_at=departure,
        arrival_at=arrival,
        aircraft=data.aircraft,
        cabins=dict(data.cabins),
        ancillary_capacity=dict(data.ancillary_capacity),
        status=data.status,
        schedule_id=schedule_id,
    )


def _time_errors(data: FlightIn, loc: Loc) -> list[FieldError]:
    departure = _instant(data.departure_local, data.origin)
    arrival = _instant(data.arrival_local, data.destination)
    if arrival <= departure:
        return [FieldError((*loc, "arrival_local"), "arrives before it departs (in UTC)")]
    if arrival - departure > timedelta(hours=24):
        return [FieldError((*loc, "arrival_local"), "a flight lasts at most 24 hours")]
    return []


@dataclass(frozen=True, slots=True)
class Created:
    flights: list[Flight]
    skipped: int


async def add_flights(
    session: AsyncSession,
    *,
    tenant: Tenant,
    flights: Sequence[FlightIn],
    actor: Actor,
    loc_of: Callable[[int], Loc] = lambda i: ("body", "flights", i),
    schedule_id: uuid.UUID | None = None,
) -> Created:
    """Add flights, all or none; one that exists (number and date) is kept and counted as skipped."""
    errors: list[FieldError] = []
    for i, data in enumerate(flights):
        errors += _airport_errors(data.origin, data.destination, loc_of(i)) or _time_errors(
            data, loc_of(i)
        )
    errors += await _product_errors(
        session,
        tenant.id,
        (
            ((*loc_of(i), "ancillary_capacity", code), code)
            for i, data in enumerate(flights)
            for code in data.ancillary_capacity
        ),
    )
    if errors:
        errors = list(dict.fromkeys(errors))
    raise_if_any(errors)
    made = [_flight(tenant.id, data, schedule_id) for data in flights]
    rows = await session.execute(
        sa.select(Flight.carrier, Flight.flight_number, Flight.departure_date).where(
            Flight.tenant_id == tenant.id,
            Flight.departure_date.in_({f.departure_date for f in made}),
        )
    )
    existing = {tuple(row) for row in rows}
    fresh: list[Flight] = []
    for flight in made:
        key = (flight.carrier, flight.flight_number, flight.departure_date)
        if key not in existing:
            existing.add(key)
            fresh.append(flight)
    session.add_all(fresh)
    await session.flush()
    if fresh:
        versioning.audit(
            session,
            actor=actor,
            action="flight.add",
            tenant_id=tenant.id,
            object_type="flight",
            after={"flights": len(fresh), "schedule_id": str(schedule_id) if schedule_id else None},
        )
        snapshots.mark_config_changed(session, tenant.id)
    return Created(fresh, len(made) - len(fresh))


def expand(schedule: ScheduleIn) -> list[FlightIn]:
    """The flights of a recurring schedule, one per matching day."""
    days = set(schedule.days_of_week)
    out = []
    day = schedule.start_date
    while day <= schedule.end_date:
        if WEEKDAYS[day.weekday()] in days:
            departure = datetime.combine(day, schedule.departure_time)
            arrival = datetime.combine(
                day + timedelta(days=schedule.arrival_day_offset), schedule.arrival_time
            )
            out.append(
                FlightIn(
                    carrier=schedule.carrier,
                    flight_number=schedule.flight_number,
                    origin=schedule.origin,
                    destination=schedule.destination,
                    departure_local=departure,
                    arrival_local=arrival,
                    aircraft=schedule.aircraft,
                    cabins=schedule.cabins,
                    ancillary_capacity=schedule.ancillary_capacity,
                )
            )
        day += timedelta(days=1)
    return out


async def add_schedule(
    session: AsyncSession, *, tenant: Tenant, schedule: ScheduleIn, actor: Actor
) -> tuple[uuid.UUID, Created]:
    errors = _airport_errors(schedule.origin, schedule.destination, ("body",))
    raise_if_any(errors)
    flights = expand(schedule)
    if flights:
        raise_if_any(_time_errors(flights[0], ("body",)))
    schedule_id = uuid.uuid4()
    created = await add_flights(
        session,
        tenant=tenant,
        flights=flights,
        actor=actor,
        loc_of=lambda _: ("body",),
        schedule_id=schedule_id,
    )
    return schedule_id, created


async def list_flights(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    origin: str | None,
    destination: str | None,
    day: date | None,
    limit: int,
) -> Sequence[Flight]:
    stmt = sa.select(Flight).where(Flight.tenant_id == tenant_id)
    if origin:
        stmt = stmt.where(Flight.origin == origin)
    if destination:
        stmt = stmt.where(Flight.destination == destination)
    if day:
        stmt = stmt.where(Flight.departure_date == day)
    stmt = stmt.order_by(Flight.departure_at, Flight.carrier, Flight.flight_number).limit(limit)
    return (await session.scalars(stmt)).all()


def flight_facts(flight: Flight) -> core.FlightFacts:
    origin = network.lookup(flight.origin)
    destination = network.lookup(flight.destination)
    departure, arrival = flight.departure_at, flight.arrival_at
    if origin is not None:
        departure = departure.astimezone(ZoneInfo(origin.timezone))
    if destination is not None:
        arrival = arrival.astimezone(ZoneInfo(destination.timezone))
    return core.FlightFacts(
        id=flight.id,
        carrier=flight.carrier,
        flight_number=flight.flight_number,
        origin=flight.origin,
        destination=flight.destination,
        departure_date=flight.departure_date,
        departure_local=flight.departure_local,
        arrival_local=flight.arrival_local,
        departure_at=departure,
        arrival_at=arrival,
        aircraft=flight.aircraft,
        cabins=dict(flight.cabins),
        ancillary_capacity=dict(flight.ancillary_capacity),
        status=flight.status,
    )


async def load_flights(session: AsyncSession, tenant_id: uuid.UUID) -> core.FlightIndex:
    rows = await session.scalars(sa.select(Flight).where(Flight.tenant_id == tenant_id))
    return core.FlightIndex.build(flight_facts(f) for f in rows)


# --- inventory rules ------------------------------------------------------------------------------


def rule_facts(rule: InventoryRule) -> core.InventoryRuleFacts:
    policy = rule.release_policy or {}
    return core.InventoryRuleFacts(
        resource_type=rule.resource_type,
        resource=rule.resource,
        hold_duration_seconds=rule.hold_duration_seconds,
        overbooking_percentage=Decimal(rule.overbooking_percentage),
        min_availability_threshold=rule.min_availability_threshold,
        notify_on_low_inventory=bool(policy.get("notify_on_low_inventory", False)),
        id=rule.id,
        version=rule.version,
    )


async def load_policy(session: AsyncSession, tenant_id: uuid.UUID) -> core.InventoryPolicy:
    rows = await session.scalars(
        sa.select(InventoryRule).where(
            InventoryRule.tenant_id == tenant_id, InventoryRule.is_active.is_(True)
        )
    )
    return core.InventoryPolicy.build(rule_facts(r) for r in rows)


def dump_rule(rule: InventoryRule) -> dict[str, Any]:
    return InventoryRuleRead.of(rule).model_dump(mode="json")


def _apply_rule(rule: InventoryRule, data: InventoryRuleIn) -> None:
    values = data.model_dump(mode="json")
    values["overbooking_percentage"] = data.overbooking_percentage
    for name in InventoryRuleIn.model_fields:
        setattr(rule, name, values[name])


async def _ensure_unique_rule(
    session: AsyncSession, tenant_id: uuid.UUID, data: InventoryRuleIn, exclude: uuid.UUID | None
) -> None:
    stmt = sa.select(InventoryRule.id).where(
        InventoryRule.tenant_id == tenant_id,
        InventoryRule.resource_type == data.resource_type,
        InventoryRule.resource.is_(None)
        if data.resource is None
        else InventoryRule.resource == data.resource,
    )
    if exclude is not None:
        stmt = stmt.where(InventoryRule.id != exclude)
    if await session.scalar(stmt) is not None:
        what = data.resource_type + (f"/{data.resource}" if data.resource else "")
        raise_if_any([FieldError(("body", "resource_type"), f"a rule for {what} exists already")])


async def _restore_rule(
    session: AsyncSession, rule: InventoryRule | None, data: Mapping[str, Any], tenant_id: uuid.UUID
) -> InventoryRule:
    recorded = InventoryRuleIn.model_validate(InventoryRuleRead.model_validate(data).as_input())
    exclude = rule.id if rule is not None else uuid.UUID(str(data["id"]))
    await _ensure_unique_rule(session, tenant_id, recorded, exclude)
    target = rule if rule is not None else InventoryRule(tenant_id=tenant_id)
    _apply_rule(target, recorded)
    return target


INVENTORY_RULE: versioning.Kind[InventoryRule] = versioning.Kind(
    name="inventory_rule", model=InventoryRule, dump=dump_rule, restore=_restore_rule
)


async def create_rule(
    session: AsyncSession, *, tenant: Tenant, data: InventoryRuleIn, actor: Actor
) -> InventoryRule:
    await _ensure_unique_rule(session, tenant.id, data, None)
    rule = InventoryRule(tenant_id=tenant.id)
    _apply_rule(rule, data)
    session.add(rule)
    await versioning.record(
        session, INVENTORY_RULE, rule, action="create", actor=actor, before=None
    )
    return rule


async def update_rule(
    session: AsyncSession,
    *,
    rule: InventoryRule,
    data: InventoryRuleIn,
    actor: Actor,
    expected_version: int | None,
) -> InventoryRule:
    versioning.check_version(rule, expected_version, "inventory rule")
    if InventoryRuleRead.of(rule).as_input() == data.model_dump(mode="json"):
        return rule
    await _ensure_unique_rule(session, rule.tenant_id, data, rule.id)
    before = dump_rule(rule)
    _apply_rule(rule, data)
    await versioning.record(
        session, INVENTORY_RULE, rule, action="update", actor=actor, before=before
    )
    return rule


async def list_rules(session: AsyncSession, *, tenant_id: uuid.UUID) -> Sequence[InventoryRule]:
    return (
        await session.scalars(
            sa.select(InventoryRule)
            .where(InventoryRule.tenant_id == tenant_id)
            .order_by(InventoryRule.resource_type, InventoryRule.resource, InventoryRule.id)
        )
    ).all()


# --- counters ------------------------------------------------------------------------------------


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
    def __init__(self, key: core.ResourceKey, wanted: int) -> None:
        super().__init__(f"{key.resource_type} {key.resource} ({key.scope}): not {wanted} left")
        self.key = key


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
) -> list[Held]:
    """Hold ``quantity`` units of each resource, in key order (so concurrent holders never wait on
    each other in a cycle). Each hold is one conditional UPDATE: it only happens if the units are
    sellable at that instant. Raise :class:`SoldOut` at the first that is not; the caller's
    transaction then rolls back every hold it made, so an order holds all or nothing."""
    held: list[Held] = []
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
            raise SoldOut(key, quantity)
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
