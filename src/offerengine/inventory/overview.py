"""The coming flights at a glance, read for the admin UI in sessions of their own: their seats sold
and held (the dashboard's load factor), the buckets that ran low, and the routes that still have
a flight to shop or bundle (the route pickers)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

import sqlalchemy as sa

from offerengine.db.base import utcnow
from offerengine.db.session import Sessions
from offerengine.inventory.models import Flight, InventoryBucket


class LowBucket(NamedTuple):
    """A bucket that crossed its low-stock threshold."""

    resource_type: str
    resource: str
    scope: str
    capacity: int
    sold: int
    held: int


@dataclass(frozen=True, slots=True)
class SeatLoad:
    """The first coming flights, the seats sold and held on each (a flight nobody has shopped yet
    has no counters), and the tenant's low buckets."""

    flights: Sequence[Flight]
    used: dict[uuid.UUID, tuple[int, int]]  # flight id: (seats sold, seats held)
    low: Sequence[LowBucket]


async def seat_load(
    sessions: Sessions, tenant_id: uuid.UUID, *, days: int = 7, limit: int = 30
) -> SeatLoad:
    """The tenant's flights of the next ``days`` days (from today, UTC) by departure, at most
    ``limit``, with their seats used; and up to 50 low buckets."""
    today = utcnow().date()
    async with sessions.session_factory() as session:
        flights = (
            await session.scalars(
                sa.select(Flight)
                .where(
                    Flight.tenant_id == tenant_id,
                    Flight.departure_date >= today,
                    Flight.departure_date < today + timedelta(days=days),
                )
                .order_by(Flight.departure_at, Flight.flight_number)
                .limit(limit)
            )
        ).all()
        used: dict[uuid.UUID, tuple[int, int]] = {}
        if flights:
            for flight_id, sold, held in await session.execute(
                sa.select(
                    InventoryBucket.flight_id,
                    sa.func.sum(InventoryBucket.sold),
                    sa.func.sum(InventoryBucket.held),
                )
                .where(
                    InventoryBucket.tenant_id == tenant_id,
                    InventoryBucket.resource_type == "SEAT",
                    InventoryBucket.flight_id.in_([f.id for f in flights]),
                )
                .group_by(InventoryBucket.flight_id)
            ):
                if flight_id is not None:
                    used[flight_id] = (int(sold or 0), int(held or 0))
        low = await session.execute(
            sa.select(
                InventoryBucket.resource_type,
                InventoryBucket.resource,
                InventoryBucket.scope,
                InventoryBucket.capacity,
                InventoryBucket.sold,
                InventoryBucket.held,
            )
            .where(InventoryBucket.tenant_id == tenant_id, InventoryBucket.low_notified.is_(True))
            .limit(50)
        )
        return SeatLoad(flights, used, [LowBucket(*row) for row in low])


class Route(NamedTuple):
    origin: str
    destination: str
    date: date  # the first departure date (local) of a flight still to leave


async def coming_routes(
    sessions: Sessions, tenant_id: uuid.UUID, *, limit: int = 50
) -> list[Route]:
    """The routes with a flight leaving an hour from now or later (a flight already gone makes no
    offers), by origin and destination, each with its first such date."""
    async with sessions.session_factory() as session:
        rows = await session.execute(
            sa.select(Flight.origin, Flight.destination, sa.func.min(Flight.departure_date))
            .where(
                Flight.tenant_id == tenant_id,
                Flight.departure_at >= utcnow() + timedelta(hours=1),
            )
            .group_by(Flight.origin, Flight.destination)
            .order_by(Flight.origin, Flight.destination)
            .limit(limit)
        )
        return [Route(*row) for row in rows]
