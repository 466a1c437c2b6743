"""Inventory counters as a worker's searches read them.

A search needs the counters of its flights' scopes (:func:`scopes_of`). Rather than one query per
search, :class:`StockCache` reads every counter of the tenant's coming flights in one query, at most
once per ``seconds`` (one refresh at a time: concurrent searches wait for it), and each search takes
its scopes' share. Re-pricing and a bundle's preview read just their scopes, now (``fresh``).

The same read brings each forecast cabin's booking controls (:mod:`offerengine.revenue.limits`),
carried on the cabin's :class:`Stock`, so that pricing sees the forecast facts and a family
closed by its limit is not offered. Controls change only when a forecast is made, while counters
change with every booking (and the limits follow the counters): so a refresh asks one more,
cheap, question (how many forecasts, the latest when) and reads the controls again only when
the answer changed, or once ``CONTROLS_RENEW_SECONDS`` old whatever it says (two runs committed
out of order could leave it unchanged). A fresh read reads its flights' controls.

Each refresh also counts, per scope, the reads that found its counters changed (its *generation*):
a ranked result stays valid while the scopes of its flights keep the generation it was made at. No
cache is used to decide whether units can be held: holding reads and writes the counters itself.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.inventory import stock as inventory
from offerengine.inventory.core import FlightFacts, Stock
from offerengine.revenue import limits
from offerengine.revenue.core.controls import CabinControls
from offerengine.snapshots.core import Snapshot

StockMap = dict[tuple[str, str, str], Stock]
ControlMap = dict[tuple[str, str, str], CabinControls]
CONTROLS_RENEW_SECONDS = 30.0


def scopes_of(flights: Sequence[FlightFacts], snapshot: Snapshot) -> set[str]:
    """Where the counters of these flights' offers live: the flights, and the airport-days of
    limited products counted per airport and day (lounges)."""
    scopes = {f.scope for f in flights}
    if snapshot.shopping.per_airport_day:
        scopes |= {f.day_scope for f in flights}
    return scopes


@dataclass
class StockCache:
    """A worker's last read of each tenant's counters, by scope; ``seconds`` <= 0 reads them for
    every search instead."""

    session_factory: async_sessionmaker[AsyncSession]
    seconds: float = 1.0
    # Per tenant: when the read was made (monotonic) and its counters by scope.
    _reads: dict[uuid.UUID, tuple[float, dict[str, StockMap]]] = field(default_factory=dict)
    _generations: dict[uuid.UUID, dict[str, int]] = field(default_factory=dict)
    _locks: dict[uuid.UUID, asyncio.Lock] = field(default_factory=dict)
    # Per tenant: when its controls were read (monotonic), the forecasts' version then, and them.
    _controls: dict[uuid.UUID, tuple[float, tuple[Any, ...], ControlMap]] = field(
        default_factory=dict
    )

    async def read(
        self, tenant_id: uuid.UUID, scopes: Iterable[str], *, fresh: bool = False
    ) -> StockMap:
        """Counters of the buckets in ``scopes``: read now when ``fresh`` (or nothing is cached),
        else from the tenant's last read, refreshed once older than ``seconds``."""
        wanted = set(scopes)
        if fresh or self.seconds <= 0:
            async with self.session_factory() as session:
                counters = await inventory.read_stock(session, tenant_id, wanted)
                controls = await limits.read_controls(session, tenant_id, limits.flights_of(wanted))
            return limits.with_controls(counters, controls)
        by_scope = await self._current(tenant_id)
        out: StockMap = {}
        for scope in wanted:
            found = by_scope.get(scope)
            if found:
                out.update(found)
        return out

    async def _current(self, tenant_id: uuid.UUID) -> dict[str, StockMap]:
        entry = self._reads.get(tenant_id)
        if entry is None or time.monotonic() - entry[0] > self.seconds:
            lock = self._locks.setdefault(tenant_id, asyncio.Lock())
            async with lock:
                entry = self._reads.get(tenant_id)
                if entry is None or time.monotonic() - entry[0] > self.seconds:
                    entry = await self._refresh(tenant_id, entry)
        return entry[1]

    async def _refresh(
        self, tenant_id: uuid.UUID, before: tuple[float, dict[str, StockMap]] | None
    ) -> tuple[float, dict[str, StockMap]]:
        """Read every counter of the tenant's coming flights (with their cabins' controls),
        counting the scopes that changed since the read ``before``."""
        stamp = time.monotonic()
        async with self.session_factory() as session:
            counters = await inventory.read_coming_stock(session, tenant_id)
            controls = await self._coming_controls(session, tenant_id)
        found = limits.with_controls(counters, controls)
        by_scope: dict[str, StockMap] = {}
        for key, value in found.items():
            by_scope.setdefault(key[0], {})[key] = value
        if before is not None:
            self._count_changes(tenant_id, before[1], by_scope)
        entry = (stamp, by_scope)
        self._reads[tenant_id] = entry
        return entry

    async def _coming_controls(self, session: AsyncSession, tenant_id: uuid.UUID) -> ControlMap:
        """The controls of the tenant's coming flights: those read before while the forecasts'
        version holds (for at most ``CONTROLS_RENEW_SECONDS``), else read now."""
        version = await limits.forecasts_version(session, tenant_id)
        kept = self._controls.get(tenant_id)
        now = time.monotonic()
        if kept is not None and kept[1] == version and now - kept[0] < CONTROLS_RENEW_SECONDS:
            return kept[2]
        found = await limits.read_coming_controls(session, tenant_id) if version[0] else {}
        self._controls[tenant_id] = (now, version, found)
        return found

    def _count_changes(
        self, tenant_id: uuid.UUID, before: dict[str, StockMap], after: dict[str, StockMap]
    ) -> None:
        generations = self._generations.setdefault(tenant_id, {})
        for scope in before.keys() | after.keys():
            if before.get(scope) != after.get(scope):
                generations[scope] = generations.get(scope, 0) + 1

    def read_at(self, tenant_id: uuid.UUID) -> float | None:
        """When the tenant's cached read was made (monotonic); None when counters are not cached
        or not read yet."""
        entry = self._reads.get(tenant_id)
        if entry is None or self.seconds <= 0:
            return None
        return entry[0]

    def generations(self, tenant_id: uuid.UUID) -> Mapping[str, int]:
        """How many reads found each scope's counters changed (absent: none)."""
        return self._generations.get(tenant_id, {})

    def forget(self, tenant_id: uuid.UUID) -> None:
        """Drop the tenant's read: its next search reads the counters again."""
        self._reads.pop(tenant_id, None)

    def clear(self) -> None:
        self._reads.clear()
        self._controls.clear()
