"""Booking limits at run time: the stored forecasts as each cabin's controls
(:class:`~offerengine.revenue.core.controls.CabinControls`), read in one query.

Shopping reads the controls of the tenant's coming flights with their inventory counters (the
worker's stock cache, at most once an interval: a cheap check of :func:`forecasts_version`, and
the controls themselves when it changed), or those of a few flights when it reads counters
fresh; an order reads its flight's in its own transaction, just before its seats are
held under ``sold + held + n <= limit − P`` (see ``inventory.stock.hold``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.db.base import utcnow
from offerengine.inventory import core as inventory
from offerengine.inventory.models import Flight
from offerengine.revenue.core.controls import CabinControls
from offerengine.revenue.models import RevenueForecast, RevenueForecastFamily

Key = tuple[str, str, str]  # the cabin's inventory key: ("flight:<id>", "SEAT", cabin)


async def read_coming_controls(
    session: AsyncSession, tenant_id: uuid.UUID, *, since: timedelta = timedelta(days=1)
) -> dict[Key, CabinControls]:
    """The controls of every forecast cabin of flights departing from a day ago on."""
    coming = sa.select(Flight.id).where(
        Flight.tenant_id == tenant_id, Flight.departure_at >= utcnow() - since
    )
    return await _controls(session, tenant_id, RevenueForecast.flight_id.in_(coming))


async def read_controls(
    session: AsyncSession, tenant_id: uuid.UUID, flight_ids: Iterable[uuid.UUID]
) -> dict[Key, CabinControls]:
    """The controls of these flights' forecast cabins."""
    wanted = list(set(flight_ids))
    if not wanted:
        return {}
    return await _controls(session, tenant_id, RevenueForecast.flight_id.in_(wanted))


async def forecasts_version(session: AsyncSession, tenant_id: uuid.UUID) -> tuple[Any, ...]:
    """What changes when the tenant's stored forecasts do: how many there are and when the latest
    was made (a run replaces a cabin's forecast with one made at the run's time)."""
    row = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.max(RevenueForecast.fitted_at)).where(
                RevenueForecast.tenant_id == tenant_id
            )
        )
    ).one()
    return (int(row[0]), row[1])


def flights_of(scopes: Iterable[str]) -> list[uuid.UUID]:
    """The flights among inventory scopes (``flight:<id>``; airport-days are left out)."""
    return [uuid.UUID(s.removeprefix("flight:")) for s in scopes if s.startswith("flight:")]


def with_controls(
    stock: Mapping[Key, inventory.Stock], controls: Mapping[Key, CabinControls]
) -> dict[Key, inventory.Stock]:
    """The counters with each forecast cabin's controls on its stock (a cabin never sold has no
    counters yet: it is full, at the forecast's capacity)."""
    out = dict(stock)
    for key, found in controls.items():
        counters = out.get(key) or inventory.Stock(found.capacity)
        out[key] = inventory.Stock(counters.capacity, counters.sold, counters.held, found)
    return out


async def _controls(
    session: AsyncSession, tenant_id: uuid.UUID, which: sa.ColumnElement[bool]
) -> dict[Key, CabinControls]:
    # Read as plain rows (no ORM loading), ordered so that each cabin's families come together,
    # highest first: a worker makes this read about once a second for all its tenant's flights.
    head = RevenueForecast.__table__.c
    family = RevenueForecastFamily.__table__.c
    rows = (
        await session.execute(
            sa.select(
                head.id,
                head.flight_id,
                head.cabin,
                head.capacity,
                head.seats_left,
                head.bid_price_minor,
                head.currency,
                family.code,
                family.multiplier,
                family.booking_limit,
                family.demand_mean,
            )
            .select_from(RevenueForecast.__table__.join(RevenueForecastFamily.__table__))
            .where(head.tenant_id == tenant_id, which)
            .order_by(head.id, family.position)
        )
    ).all()
    out: dict[Key, CabinControls] = {}
    start = 0
    for end in range(1, len(rows) + 1):
        if end < len(rows) and rows[end][0] == rows[start][0]:
            continue
        first = rows[start]
        _, flight_id, cabin, capacity, seats_left, bid_minor, currency = first[:7]
        bid = (
            money.from_minor(int(bid_minor), str(currency))
            if bid_minor is not None and currency is not None
            else None
        )
        out[(f"flight:{flight_id}", inventory.SEAT, str(cabin))] = CabinControls.of(
            capacity=int(capacity),
            seats_left=int(seats_left),
            families=[(r[7], Decimal(r[8]), int(r[9]), float(r[10])) for r in rows[start:end]],
            bid_price=bid,
            currency=None if currency is None else str(currency),
        )
        start = end
    return out
