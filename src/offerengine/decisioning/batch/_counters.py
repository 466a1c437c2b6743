"""The live counters in bulk: what the caps allow before the batch (:func:`read_limits`), and the
allocation's counts taken after it (:func:`take_counts`), atomically and never past a limit — in
the database (:class:`SqlBatchCounters`) or in Redis (:class:`RedisBatchCounters`).

Separate from allocation because it is the only part of a batch that reads or writes the
counters live decisions share; the allocation between them is pure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.db import upsert
from offerengine.decisioning import core, counting
from offerengine.decisioning.batch._allocation import Allocation, Limits
from offerengine.decisioning.models import CapCounter, CapEvent


class BatchCounters(Protocol):
    """Cap counters read and counted for many subjects at once."""

    async def read(
        self, offer: core.OfferDef, cap: core.Cap, subjects: Sequence[str]
    ) -> dict[str, int]:
        """The current counts of the cap for the subjects ('' for a global cap)."""

    async def take(
        self, offer: core.OfferDef, cap: core.Cap, wanted: Mapping[str, int]
    ) -> dict[str, int]:
        """Count up to ``n`` per subject against the cap, never past its limit: how many were
        counted per subject."""


_IN = 2000  # subjects looked up by name; more, and the cap's counts are read whole


class SqlBatchCounters:
    """The counters in the database (as live decisions count without Redis)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tenant_id: uuid.UUID,
        now: datetime,
        *,
        is_sqlite: bool,
    ) -> None:
        self._sessions = session_factory
        self._tenant_id = tenant_id
        self._now = now
        self._is_sqlite = is_sqlite

    def _key(self, offer: core.OfferDef, cap: core.Cap, subject: str) -> dict[str, Any]:
        return {
            "tenant_id": self._tenant_id,
            "offer_id": offer.id,
            "cap_key": cap.key,
            "subject": subject,
            "bucket": cap.bucket(self._now),
        }

    async def read(
        self, offer: core.OfferDef, cap: core.Cap, subjects: Sequence[str]
    ) -> dict[str, int]:
        """Counts for a few subjects are looked up; for many, the cap's counts are read whole
        (one query, filtered here)."""
        if cap.rolling:
            since = self._now - timedelta(seconds=cap.seconds)
            stmt = (
                sa.select(CapEvent.subject, sa.func.count())
                .where(
                    CapEvent.tenant_id == self._tenant_id,
                    CapEvent.offer_id == offer.id,
                    CapEvent.cap_key == cap.key,
                    CapEvent.at > since,
                )
                .group_by(CapEvent.subject)
            )
            subject = CapEvent.subject
        else:
            stmt = sa.select(CapCounter.subject, CapCounter.count).where(
                CapCounter.tenant_id == self._tenant_id,
                CapCounter.offer_id == offer.id,
                CapCounter.cap_key == cap.key,
                CapCounter.bucket == cap.bucket(self._now),
            )
            subject = CapCounter.subject
        found: dict[str, int] = {}
        async with self._sessions() as session:
            if len(subjects) > _IN:
                wanted = set(subjects)
                rows = await session.execute(stmt)
                return {s: int(c) for s, c in rows if s in wanted}
            rows = await session.execute(stmt.where(subject.in_(list(subjects))))
            found.update({s: int(c) for s, c in rows})
        return found

    async def take(
        self, offer: core.OfferDef, cap: core.Cap, wanted: Mapping[str, int]
    ) -> dict[str, int]:
        got: dict[str, int] = {}
        async with self._sessions() as session:
            if self._is_sqlite:  # the write lock up front
                await session.connection(execution_options={"sqlite_immediate": True})
            if not cap.rolling and len(wanted) > 1:
                got = await self._take_all(session, offer, cap, wanted)
            for subject, n in wanted.items():
                if subject not in got:
                    got[subject] = await self._take_one(
                        session, self._key(offer, cap, subject), cap, n
                    )
            await session.commit()
        return got

    async def _take_all(
        self, session: AsyncSession, offer: core.OfferDef, cap: core.Cap, wanted: Mapping[str, int]
    ) -> dict[str, int]:
        """Every subject's count in one statement per thousand (a conditional upsert returning
        the subjects it counted); the others are left to :meth:`_take_one`."""
        got: dict[str, int] = {}
        items = list(wanted.items())
        for start in range(0, len(items), 1000):
            chunk = items[start : start + 1000]
            table = CapCounter.__table__
            stmt = upsert.insert(session, table)
            stmt = stmt.on_conflict_do_update(
                index_elements=list(counting.KEY),
                set_={"count": table.c.count + stmt.excluded.count},
                where=table.c.count + stmt.excluded.count <= cap.limit,
            ).returning(table.c.subject)
            # Core, not the ORM's bulk path: the rows need no objects.
            connection = await session.connection()
            rows = await connection.execute(
                stmt, [{**self._key(offer, cap, subject), "count": n} for subject, n in chunk]
            )
            counted = set(rows.scalars())
            got.update({subject: n for subject, n in chunk if subject in counted})
        return got

    async def _take_one(
        self, session: AsyncSession, key: dict[str, Any], cap: core.Cap, n: int
    ) -> int:
        if cap.rolling:
            await counting.lock(session, key)
            held = await counting.rolling_count(session, key, cap, self._now, prune=True)
            n = min(n, cap.limit - held)
            if n > 0:
                await session.execute(
                    sa.insert(CapEvent), [counting.cap_event(key, self._now) for _ in range(n)]
                )
            return max(n, 0)
        while n > 0:
            stmt = (
                upsert.insert(session, CapCounter)
                .values(**key, count=n)
                .on_conflict_do_update(
                    index_elements=list(counting.KEY),
                    set_={"count": CapCounter.count + n},
                    where=CapCounter.count + n <= cap.limit,
                )
                .returning(CapCounter.count)
            )
            if (await session.execute(stmt)).first() is not None:
                return n
            current = await session.scalar(
                sa.select(CapCounter.count).where(
                    *(getattr(CapCounter, name) == key[name] for name in counting.KEY)
                )
            )
            n = min(n, cap.limit - int(current or 0))
        return 0


# KEYS[1]: the counter. ARGV: limit, n, ttl seconds or window ms, rolling 1|0, now ms, member
# prefix. Counts what fits under the limit, returns how many.
_TAKE = """
local limit, n, span = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = tonumber(ARGV[5])
local held
if ARGV[4] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
  held = redis.call('ZCARD', KEYS[1])
else
  held = tonumber(redis.call('GET', KEYS[1]) or '0')
end
if held + n > limit then n = limit - held end
if n <= 0 then return 0 end
if ARGV[4] == '1' then
  for i = 1, n do redis.call('ZADD', KEYS[1], now, ARGV[6] .. ':' .. i) end
  redis.call('PEXPIRE', KEYS[1], span)
else
  local count = redis.call('INCRBY', KEYS[1], n)
  if count == n and span > 0 then redis.call('EXPIRE', KEYS[1], span) end
end
return n
"""


class RedisBatchCounters:
    """The counters in Redis (as live decisions count with Redis), pipelined."""

    def __init__(self, redis: Redis, prefix: str, tenant_id: uuid.UUID, now: datetime) -> None:
        self._redis = redis
        self._prefix = prefix
        self._tenant_id = tenant_id
        self._now = now

    def _name(self, offer: core.OfferDef, cap: core.Cap, subject: str) -> str:
        key = counting.counter_key(self._tenant_id, offer.id, cap, subject, self._now)
        return counting.redis_key(self._prefix, key)

    async def read(
        self, offer: core.OfferDef, cap: core.Cap, subjects: Sequence[str]
    ) -> dict[str, int]:
        found: dict[str, int] = {}
        since = counting.ms(self._now) - cap.seconds * 1000 if cap.rolling else 0
        for start in range(0, len(subjects), 5000):
            chunk = list(subjects[start : start + 5000])
            async with self._redis.pipeline(transaction=False) as pipe:
                for subject in chunk:
                    name = self._name(offer, cap, subject)
                    if cap.rolling:
                        pipe.zcount(name, f"({since}", "+inf")
                    else:
                        pipe.get(name)
                counts = await pipe.execute()
            found.update({s: int(c or 0) for s, c in zip(chunk, counts, strict=True) if c})
        return found

    async def take(
        self, offer: core.OfferDef, cap: core.Cap, wanted: Mapping[str, int]
    ) -> dict[str, int]:
        span = cap.seconds * 1000 if cap.rolling else counting.ttl(cap)
        now = counting.ms(self._now)
        got: dict[str, int] = {}
        items = list(wanted.items())
        for start in range(0, len(items), 5000):
            chunk = items[start : start + 5000]
            async with self._redis.pipeline(transaction=False) as pipe:
                for subject, n in chunk:
                    pipe.eval(
                        _TAKE,
                        1,
                        self._name(offer, cap, subject),
                        cap.limit,
                        n,
                        span,
                        1 if cap.rolling else 0,
                        now,
                        uuid.uuid4().hex,
                    )
                counted = await pipe.execute()
            got.update({s: int(c) for (s, _), c in zip(chunk, counted, strict=True)})
        return got


async def read_limits(
    counters: BatchCounters, offers: Iterable[core.OfferDef], profiles: Sequence[str]
) -> Limits:
    """What the counters allow the offers before the batch, for these profiles."""
    limits = Limits()
    for offer in offers:
        per_profile: list[tuple[core.Cap, dict[str, int]]] = []
        for cap in offer.caps:
            if cap.scope == "global":
                held = (await counters.read(offer, cap, [""])).get("", 0)
                if cap.event == "decision":
                    left = max(cap.limit - held, 0)
                    limits.global_left[offer.key] = min(
                        left, limits.global_left.get(offer.key, left)
                    )
                elif held >= cap.limit:
                    limits.out.add(offer.key)
                continue
            held_by = await counters.read(offer, cap, profiles)
            if cap.event == "decision":
                per_profile.append((cap, held_by))
            else:
                limits.profile_out.update(
                    (offer.key, p) for p, held in held_by.items() if held >= cap.limit
                )
        if per_profile:
            limits.profile_limit[offer.key] = min(cap.limit for cap, _ in per_profile)
            counted = set().union(*(held_by for _, held_by in per_profile))
            for profile in counted:
                limits.profile_left[(offer.key, profile)] = min(
                    cap.limit - held_by.get(profile, 0) for cap, held_by in per_profile
                )
    return limits


async def take_counts(
    counters: BatchCounters,
    allocation: Allocation,
    profiles: Sequence[str],
    offers: Mapping[str, core.OfferDef],
) -> int:
    """Count the allocation against the live counters: a global cap all at once, then profile
    caps; an item a counter no longer allows is dropped (the lowest scores first). How many were
    dropped."""
    holders: dict[str, list[tuple[float, int, int]]] = {}  # offer → (score, -row, activity)
    for a, per_profile in enumerate(allocation.chosen):
        for p, picks in enumerate(per_profile):
            for key, score in picks:
                if offers[key].caps:
                    holders.setdefault(key, []).append((score, -p, a))
    dropped: set[tuple[int, int, str]] = set()  # (activity, row, offer)
    for key, held in holders.items():
        offer = offers[key]
        held.sort(reverse=True)
        for cap in offer.caps:
            if cap.event != "decision" or cap.scope != "global":
                continue
            got = (await counters.take(offer, cap, {"": len(held)})).get("", 0)
            for _, p, a in held[got:]:
                dropped.add((a, -p, key))
            held = held[:got]
        for cap in offer.caps:
            if cap.event != "decision" or cap.scope != "profile":
                continue
            wanted: dict[str, int] = {}
            for _, p, _ in held:
                wanted[profiles[-p]] = wanted.get(profiles[-p], 0) + 1
            got_by = await counters.take(offer, cap, wanted)
            for _, p, a in sorted(held, key=lambda h: h[2], reverse=True):  # later activities first
                profile = profiles[-p]
                if wanted[profile] > got_by.get(profile, 0):
                    wanted[profile] -= 1
                    dropped.add((a, -p, key))
    for a, p, key in dropped:
        allocation.chosen[a][p] = [(k, s) for k, s in allocation.chosen[a][p] if k != key]
    return len(dropped)
