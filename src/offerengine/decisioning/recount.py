"""Cap counts in Redis, rebuilt from what the database stores whenever Redis has lost them.

With Redis configured the cap counters live there (:mod:`offerengine.decisioning.counting`). A
Redis restarted without persistence, flushed, replaced by another, or newly configured on a
deployment that counted in the database holds none of them, and reading its zeros as counts would
propose an offer capped at 10 as if it had never been shown. An empty Redis is never trusted.

1. The counters carry a marker, ``<prefix>:cap:generation``, written once the counts in Redis
   are known complete. The admit script checks it in the same atomic step that reads and counts
   (no extra round trip): without it nothing is counted, and a decision with a capped offer among
   its candidates is refused with a 503 and Retry-After (decisions of uncapped offers go on).
   Refused rather than proposed on a partial count: a cap is a promise (a budget, a contract, a
   customer's patience), and a few seconds of 503s on capped offers break none.
2. Meanwhile one worker (a Redis lock) rebuilds the counts of every tenant's capped offers, for
   the window each cap counts now, from the database:

   - decision caps from the stored decisions' propositions (fallbacks aside), per profile for a
     profile's caps; event caps from the stored impressions, clicks and accepts;
   - the database's own counters (``decision_counters``, ``decision_cap_events``), which hold
     every count made while the deployment counted without Redis.

   Per counter the larger of the two is written (a rolling window's as its members), never less
   than Redis counted meanwhile; then the marker, and decisions are served again.
3. Each worker also checks the marker as it starts, so that a fresh or emptied Redis is rebuilt
   before the first decision needs it.

What a rebuild cannot see, so that it may count less than was shown: decisions older than their
retention (``decision_retention_days``) for lifetime caps counted only in Redis, and records in a
Redis stream lost with the counts before a consumer stored them (the last moments before the loss).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.clock import utcnow
from offerengine.decisioning import core
from offerengine.decisioning.counting import counter_key, ms, redis_key, ttl
from offerengine.decisioning.models import CapCounter, CapEvent, Decision
from offerengine.errors import NotFound
from offerengine.events.models import Event
from offerengine.observability.logging import get_logger
from offerengine.recording import Recording
from offerengine.redis_line import RedisLine, Script
from offerengine.snapshots.store import SnapshotStore
from offerengine.tenants.models import Tenant

log = get_logger("offerengine.decisioning")
LOCK_MS = 300_000  # a rebuild that takes longer (or a worker that died) lets another begin
RETRY_SECONDS = 1.0  # after a failed rebuild (the database away), before the next try
_BATCH = 500  # keys or members per command

# KEYS: counters. ARGV: per key, the count and its time to live (0: none). A key only grows.
_AT_LEAST = Script("""
for i = 1, #KEYS do
  local want = tonumber(ARGV[2 * i - 1])
  if want > tonumber(redis.call('GET', KEYS[i]) or '0') then
    redis.call('SET', KEYS[i], want)
    local ttl = tonumber(ARGV[2 * i])
    if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl) end
  end
end
return #KEYS
""")
_UNLOCK = Script("""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
""")


def marker_key(prefix: str) -> str:
    """The key whose presence says Redis holds every cap count (see the module's doc)."""
    return f"{prefix}:cap:generation"


@dataclass
class Tally:
    """Counts of one tenant's capped offers by Redis key: a count per counter, and the members
    (id → time in ms) of each rolling window with the window's length in ms."""

    prefix: str
    counts: dict[str, int] = field(default_factory=dict)
    ttls: dict[str, int] = field(default_factory=dict)
    members: dict[str, dict[str, int]] = field(default_factory=dict)
    spans: dict[str, int] = field(default_factory=dict)

    def add(self, key: dict[str, Any], cap: core.Cap, member: str, at: datetime) -> None:
        """One more event of ``cap`` at ``at`` (a rolling window's as a member)."""
        name = redis_key(self.prefix, key)
        if cap.rolling:
            self.members.setdefault(name, {})[member] = ms(at)
            self.spans[name] = cap.seconds * 1000
        else:
            self.counts[name] = self.counts.get(name, 0) + 1
            self.ttls[name] = ttl(cap)

    def at_least(self, other: Tally) -> None:
        """Keep, per counter, the larger of this tally's and ``other``'s."""
        for name, count in other.counts.items():
            if count > self.counts.get(name, 0):
                self.counts[name] = count
                self.ttls[name] = other.ttls[name]
        for name, members in other.members.items():
            if len(members) > len(self.members.get(name, {})):
                self.members[name] = members
                self.spans[name] = other.spans[name]


def counts_now(cap: core.Cap, at: datetime, now: datetime) -> bool:
    """Whether an event at ``at`` counts against ``cap`` now: within its rolling window, in its
    current calendar window, or ever for a lifetime cap."""
    if cap.rolling:
        return at > now - timedelta(seconds=cap.seconds)
    return cap.bucket(at) == cap.bucket(now)


def _since(offers: Iterable[core.OfferDef], now: datetime) -> datetime | None:
    """The earliest time any of the offers' caps counts from (None: a lifetime cap, all)."""
    earliest = now
    for offer in offers:
        for cap in offer.caps:
            if cap.window == "lifetime":
                return None
            # A calendar window is at most a month (and a day or two of time zones) long.
            span = cap.seconds if cap.rolling else 33 * 86_400
            earliest = min(earliest, now - timedelta(seconds=span))
    return earliest


async def recorded(
    session: AsyncSession,
    tally: Tally,
    tenant_id: uuid.UUID,
    offers: Mapping[str, core.OfferDef],
    now: datetime,
) -> None:
    """Count into ``tally`` what the stored decisions and events say was counted."""
    since = _since(offers.values(), now)
    stmt = sa.select(Decision.id, Decision.profile_id, Decision.made_at, Decision.propositions)
    stmt = stmt.where(Decision.tenant_id == tenant_id)
    if since is not None:
        stmt = stmt.where(Decision.made_at > since)
    rows = await session.stream(stmt.execution_options(yield_per=2000))
    async for decision_id, profile_id, made_at, propositions in rows:
        for n, item in enumerate(propositions):
            offer = offers.get(item.get("offer_id"))
            if offer is None or item.get("fallback"):
                continue
            for cap in offer.caps:
                if cap.event == "decision" and counts_now(cap, made_at, now):
                    key = counter_key(tenant_id, offer.id, cap, profile_id, made_at)
                    tally.add(key, cap, f"{decision_id}:{n}", made_at)
    await _recorded_events(session, tally, tenant_id, offers, now, since)


async def _recorded_events(
    session: AsyncSession,
    tally: Tally,
    tenant_id: uuid.UUID,
    offers: Mapping[str, core.OfferDef],
    now: datetime,
    since: datetime | None,
) -> None:
    kinds = {cap.event for offer in offers.values() for cap in offer.caps} - {"decision"}
    if not kinds:
        return
    stmt = sa.select(Event.id, Event.type, Event.profile_id, Event.offer_id, Event.occurred_at)
    stmt = stmt.where(
        Event.tenant_id == tenant_id, Event.type.in_(kinds), Event.offer_id.in_(list(offers))
    )
    if since is not None:
        stmt = stmt.where(Event.occurred_at > since)
    rows = await session.stream(stmt.execution_options(yield_per=2000))
    async for event_id, kind, profile_id, offer_id, at in rows:
        offer = offers.get(offer_id or "")
        if offer is None:
            continue
        for cap in offer.caps:
            if cap.event != kind or (cap.scope == "profile" and not profile_id):
                continue
            if counts_now(cap, at, now):
                key = counter_key(tenant_id, offer.id, cap, profile_id or "", at)
                tally.add(key, cap, str(event_id), at)


async def counted(
    session: AsyncSession,
    tally: Tally,
    tenant_id: uuid.UUID,
    offers: Mapping[str, core.OfferDef],
    now: datetime,
) -> None:
    """Count into ``tally`` what the database's own counters hold (what was counted while the
    deployment counted without Redis)."""
    by_id = {offer.id: offer for offer in offers.values()}
    rows = await session.execute(
        sa.select(
            CapCounter.offer_id,
            CapCounter.cap_key,
            CapCounter.subject,
            CapCounter.bucket,
            CapCounter.count,
        ).where(CapCounter.tenant_id == tenant_id, CapCounter.offer_id.in_(list(by_id)))
    )
    for offer_id, cap_key, subject, bucket, count in rows:
        for cap in by_id[offer_id].caps:
            if cap.key == cap_key and not cap.rolling and bucket == cap.bucket(now) and count:
                key = {"tenant_id": tenant_id, "offer_id": offer_id, "cap_key": cap_key}
                name = redis_key(tally.prefix, key | {"subject": subject, "bucket": bucket})
                tally.counts[name] = max(tally.counts.get(name, 0), int(count))
                tally.ttls[name] = ttl(cap)
    rolling = [c for o in by_id.values() for c in o.caps if c.rolling]
    if not rolling:
        return
    since = now - timedelta(seconds=max(c.seconds for c in rolling))
    events = await session.execute(
        sa.select(CapEvent.id, CapEvent.offer_id, CapEvent.cap_key, CapEvent.subject, CapEvent.at)
        .where(CapEvent.tenant_id == tenant_id, CapEvent.offer_id.in_(list(by_id)))
        .where(CapEvent.at > since)
    )
    for event_id, offer_id, cap_key, subject, at in events:
        for cap in by_id[offer_id].caps:
            if cap.key == cap_key and cap.rolling and counts_now(cap, at, now):
                key = {"tenant_id": tenant_id, "offer_id": offer_id, "cap_key": cap_key}
                tally.add(key | {"subject": subject, "bucket": "rolling"}, cap, str(event_id), at)


class CapRecount:
    """This worker's side of the rebuild: started when the admit script finds no marker (and as
    the worker starts), one at a time, with one worker of the deployment at work (a Redis lock)."""

    def __init__(
        self,
        *,
        line: RedisLine,
        prefix: str,
        session_factory: async_sessionmaker[AsyncSession],
        snapshots: SnapshotStore,
        recorder: Recording,
    ) -> None:
        self._line = line
        self._prefix = prefix
        self._session_factory = session_factory
        self._snapshots = snapshots
        self._recorder = recorder
        self._task: asyncio.Task[None] | None = None
        self._failed_at = -RETRY_SECONDS

    def ensure(self) -> None:
        """Rebuild the counts unless this worker is at it, or failed to a moment ago."""
        if self._task is not None and not self._task.done():
            return
        if time.monotonic() - self._failed_at < RETRY_SECONDS:
            return
        # A context of its own: not the request's that found the marker gone (its log fields,
        # its time budget).
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="cap-recount", context=contextvars.Context()
        )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        try:
            await self.rebuild()
        except Exception as exc:  # Redis or the database away: the next decision tries again
            self._failed_at = time.monotonic()
            log.warning("cap_recount_failed", error=repr(exc))

    async def rebuild(self) -> bool:
        """Rebuild the counts if Redis has no marker and no other worker is at it; whether this
        call did."""
        marker = marker_key(self._prefix)
        if await self._line.execute("EXISTS", marker):
            return False
        lock, token = f"{self._prefix}:cap:recounting", uuid.uuid4().hex
        if await self._line.execute("SET", lock, token, "NX", "PX", LOCK_MS) is None:
            return False  # another worker is at it; decisions wait for its marker
        started = time.perf_counter()
        try:
            await self._recorder.catch_up()  # what was decided is stored before it is read
            now = utcnow()
            async with self._session_factory() as session:
                tenants = list(await session.scalars(sa.select(Tenant.id)))
            written = 0
            for tenant_id in tenants:
                written += await self._recount(tenant_id, now)
            await self._line.execute("SET", marker, now.isoformat())
        finally:
            await self._line.evalsha(_UNLOCK, [lock], [token])
        log.warning(
            "cap_counts_rebuilt",
            tenants=len(tenants),
            counters=written,
            seconds=round(time.perf_counter() - started, 3),
        )
        return True

    async def _recount(self, tenant_id: uuid.UUID, now: datetime) -> int:
        """Rebuild one tenant's counters; how many were written."""
        try:
            snapshot = await self._snapshots.get(tenant_id)
        except NotFound:
            return 0
        offers = {o.key: o for o in snapshot.decisioning.offers.values() if o.caps}
        if not offers:
            return 0
        found, stored = Tally(self._prefix), Tally(self._prefix)
        async with self._session_factory() as session:
            await recorded(session, found, tenant_id, offers, now)
            await counted(session, stored, tenant_id, offers, now)
        found.at_least(stored)
        await self._write(found)
        return len(found.counts) + len(found.members)

    async def _write(self, tally: Tally) -> None:
        names = list(tally.counts)
        for start in range(0, len(names), _BATCH):
            batch = names[start : start + _BATCH]
            args: list[Any] = []
            for name in batch:
                args += [tally.counts[name], tally.ttls[name]]
            await self._line.evalsha(_AT_LEAST, batch, args)
        for name, members in tally.members.items():
            items = list(members.items())
            commands: list[tuple[Any, ...]] = []
            for start in range(0, len(items), _BATCH):
                pairs = [v for member, at in items[start : start + _BATCH] for v in (at, member)]
                commands.append(("ZADD", name, *pairs))
            commands.append(("PEXPIRE", name, tally.spans[name]))
            await self._line.execute_many(commands)
