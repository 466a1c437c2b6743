"""Flights and recurring schedules: adding them (all or none, checked against the airport network
and the tenant's products), listing them, and reading them as :class:`core.FlightFacts` for the
snapshot. The unit of work (``offerengine.deps.DbSession``) commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.catalog.models import Product
from offerengine.errors import FieldError, Loc, raise_if_any
from offerengine.inventory import core
from offerengine.inventory.models import Flight
from offerengine.inventory.schemas import FlightIn, ScheduleIn
from offerengine.network import core as network
from offerengine.snapshots import service as snapshots
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


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
