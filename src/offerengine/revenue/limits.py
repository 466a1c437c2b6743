"""Booking limits at run time: the stored forecasts as each cabin's controls
(:class:`~offerengine.revenue.core.controls.CabinControls`), read in one query.

Shopping reads the controls of the tenant's coming flights with their inventory counters (the
worker's stock cache, at most once an interval), or those of a few flights when it reads
counters fresh; an order reads its flight's in its own transaction, just before its seats are
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
    head, family = RevenueForecast, RevenueForecastFamily
    rows = await session.execute(
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
        .join(family, family.forecast_id == head.id)
        .where(head.tenant_id == tenant_id, which)
        .order_by(head.id, family.position)
    )
    grouped: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    out: dict[Key, CabinControls] = {}
    for found in grouped.values():
        _, flight_id, cabin, capacity, seats_left, bid_minor, currency = found[0][:7]
        bid = (
            money.from_minor(int(bid_minor), str(currency))
            if bid_minor is not None and currency is not None
            else None
        )
        out[(f"flight:{flight_id}", inventory.SEAT, str(cabin))] = CabinControls.of(
            capacity=int(capacity),
            seats_left=int(seats_left),
            families=[(str(r[7]), Decimal(r[8]), int(r[9]), float(r[10])) for r in found],
            bid_price=bid,
            currency=None if currency is None else str(currency),
        )
    return out
