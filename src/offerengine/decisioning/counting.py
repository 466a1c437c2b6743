"""Cap counters, exact: checking a cap and counting against it are one atomic step.

With Redis configured the counters live there, and one Lua script checks every cap of an offer and
counts its decision caps, all or none — one round trip, atomic across every worker. Without Redis
they live in ``decision_counters``: a decision cap is taken by one conditional upsert
(``count = count + 1 WHERE count < limit``), so concurrent decisions queue on the counter row and
never pass the limit. On PostgreSQL that is in the decision's transaction; on SQLite each offer's
caps are one short transaction of their own on the recorder's thread (all or none for the offer),
so SQLite's one write lock is never held across the event loop's turns. Either way event caps (impression, click,
accept) are counted as the events arrive and read at decision time; a dry run only reads.

Redis should still be persistent (AOF): the counters are the record of what was shown. When it
has lost them all the same (a restart without persistence, a flush, a new Redis) the admit script
finds no marker and counts nothing; the counts are rebuilt from the database first
(:mod:`offerengine.decisioning.recount`), and until then a capped offer is a 503, never a zero.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import budget
from offerengine.db import upsert
from offerengine.db.session import write_transaction
from offerengine.decisioning import core
from offerengine.decisioning.models import CapCounter, CapEvent
from offerengine.errors import Unavailable
from offerengine.observability.logging import get_logger
from offerengine.recording.store import RecordStore
from offerengine.recording.writer import Recorder
from offerengine.redis_line import RedisLine, Script

if TYPE_CHECKING:
    from offerengine.context import AppContext

log = get_logger("offerengine.decisioning")
Refusal = tuple[core.Cap, int]  # the cap reached, and its count
# How long Redis keeps a calendar window's counter after the window opened (a little more than
# the window); lifetime counters are kept for good.
_TTL = {"day": 2 * 86_400, "week": 9 * 86_400, "month": 33 * 86_400}


class Counters(Protocol):
    async def admit(self, offer: core.OfferDef, dry_run: bool) -> Refusal | None:
        """Count the offer's decision caps (all or none) unless a cap refuses it: then which."""


KEY = ("tenant_id", "offer_id", "cap_key", "subject", "bucket")


def counter_key(
    tenant_id: uuid.UUID, offer_id: uuid.UUID, cap: core.Cap, profile_id: str, at: datetime
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "offer_id": offer_id,
        "cap_key": cap.key,
        "subject": cap.subject(profile_id),
        "bucket": cap.bucket(at),
    }


@dataclass(frozen=True, slots=True)
class Slot:
    """One counter of one cap."""

    cap: core.Cap
    key: dict[str, Any]


async def count_up(session: AsyncSession, key: dict[str, Any], limit: int | None) -> bool:
    """Add one to a cap counter — only while it is below ``limit``, when given; whether it
    counted."""
    return await upsert.count_up(session, CapCounter, {k: key[k] for k in KEY}, limit)


def _rolling_key(key: dict[str, Any]) -> list[sa.ColumnElement[bool]]:
    return [
        CapEvent.tenant_id == key["tenant_id"],
        CapEvent.offer_id == key["offer_id"],
        CapEvent.cap_key == key["cap_key"],
        CapEvent.subject == key["subject"],
    ]


def cap_event(key: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": key["tenant_id"],
        "offer_id": key["offer_id"],
        "cap_key": key["cap_key"],
        "subject": key["subject"],
        "at": at,
    }


async def lock(session: AsyncSession, key: dict[str, Any]) -> None:
    """Take the rolling counter's lock until the transaction ends: its row in
    ``decision_counters``, upserted without change (PostgreSQL locks the row; SQLite's write lock
    is the transaction's already). Every writer of the rolling events of ``key`` takes it first."""
    stmt = (
        upsert.insert(session, CapCounter)
        .values(**key, count=0)
        .on_conflict_do_update(index_elements=list(KEY), set_={"count": CapCounter.count})
    )
    await session.execute(stmt)


async def rolling_count(
    session: AsyncSession, key: dict[str, Any], cap: core.Cap, now: datetime, *, prune: bool = False
) -> int:
    """Events of a rolling cap within its window ending ``now``; with ``prune`` (the lock held)
    the older ones are deleted."""
    since = now - timedelta(seconds=cap.seconds)
    if prune:
        await session.execute(sa.delete(CapEvent).where(*_rolling_key(key), CapEvent.at <= since))
    found = await session.scalar(
        sa.select(sa.func.count()).where(*_rolling_key(key), CapEvent.at > since)
    )
    return int(found or 0)


class Previewed:
    """What a dry run would have counted so far in its request, per offer and decision cap: a
    preview adds it to what it reads, so it decides as the real request would (``[X, Y]``, not
    ``[X, X]``), and writes nothing."""

    def __init__(self) -> None:
        self._taken: dict[tuple[uuid.UUID, str], int] = {}

    def count(self, offer: core.OfferDef, cap: core.Cap) -> int:
        return self._taken.get((offer.id, cap.key), 0)

    def take(self, offer: core.OfferDef) -> None:
        for cap in offer.caps:
            if cap.event == "decision":
                self._taken[(offer.id, cap.key)] = self.count(offer, cap) + 1


class SqlCounters:
    """The counters of one request: read in a plain session, counted in a write transaction
    (SQLite's write lock taken up front), each opened on first use and closed with the request."""

    def __init__(
        self,
        ctx: AppContext,
        stack: AsyncExitStack,
        tenant_id: uuid.UUID,
        profile: str,
        now: datetime,
    ) -> None:
        self._ctx = ctx
        self._stack = stack
        self._tenant_id = tenant_id
        self._profile = profile
        self._now = now
        self._writer: AsyncSession | None = None
        self._rolled: dict[tuple[uuid.UUID, str], uuid.UUID] = {}  # rolling events taken
        self._previewed = Previewed()

    async def writer(self) -> AsyncSession:
        if self._writer is None:
            self._writer = await self._stack.enter_async_context(write_transaction(self._ctx))
        return self._writer

    def slots(self, offer: core.OfferDef) -> list[Slot]:
        return [
            Slot(cap, counter_key(self._tenant_id, offer.id, cap, self._profile, self._now))
            for cap in offer.caps
        ]

    async def read(self, slot: Slot) -> int:
        """The slot's count now: in the decision's write transaction if it has one, else in a
        session of its own, returned at once: a decision holds no pooled connection while it
        ranks, reads profiles or records."""
        if self._writer is not None:
            return await self._read(self._writer, slot)
        async with self._ctx.session_factory() as session:
            return await self._read(session, slot)

    async def _read_all(self, slots: list[Slot], store: RecordStore | None) -> list[int]:
        """The counts of ``slots``; on SQLite in one hop to the record store's reading thread."""
        if not slots:
            return []
        if store is not None and self._writer is None:
            now = self._now
            return await store.read(lambda c: [_read_here(c, slot, now) for slot in slots])
        return [await self.read(slot) for slot in slots]

    def _sqlite_store(self) -> RecordStore | None:
        """The recorder's store when the counters are SQLite's and it has threads of its own."""
        recorder = self._ctx.recorder
        if self._ctx.is_sqlite and isinstance(recorder, Recorder) and recorder.store.threaded:
            return recorder.store
        return None

    async def _read(self, session: AsyncSession, slot: Slot) -> int:
        if slot.cap.rolling:
            return await rolling_count(session, slot.key, slot.cap, self._now)
        found = await session.scalar(
            sa.select(CapCounter.count).where(
                *(getattr(CapCounter, name) == slot.key[name] for name in KEY)
            )
        )
        return int(found or 0)

    async def take(self, slot: Slot) -> bool:
        """Count one more against the cap, if it is not reached; atomically."""
        session = await self.writer()
        if not slot.cap.rolling:
            return await count_up(session, slot.key, slot.cap.limit)
        await lock(session, slot.key)
        if await rolling_count(session, slot.key, slot.cap, self._now, prune=True) >= (
            slot.cap.limit
        ):
            return False
        event = cap_event(slot.key, self._now)
        await session.execute(sa.insert(CapEvent).values(event))
        self._rolled[(slot.key["offer_id"], slot.cap.key)] = event["id"]
        return True

    async def give_back(self, slot: Slot) -> None:
        session = await self.writer()
        if slot.cap.rolling:
            taken = self._rolled.pop((slot.key["offer_id"], slot.cap.key))
            await session.execute(sa.delete(CapEvent).where(CapEvent.id == taken))
            return
        await session.execute(
            sa.update(CapCounter)
            .where(*(getattr(CapCounter, name) == slot.key[name] for name in KEY))
            .values(count=CapCounter.count - 1)
        )

    async def admit(self, offer: core.OfferDef, dry_run: bool) -> tuple[core.Cap, int] | None:
        """Count the offer's decision caps (all or none); the cap that refuses it, if any."""
        slots = self.slots(offer)
        store = self._sqlite_store()
        if store is not None and not dry_run:
            # SQLite: the offer's reads and counts in one short transaction of their own on the
            # recorder's thread, queued with its flushes. SQLite's write lock is then never held
            # across the event loop's turns, and nobody busy-waits for it: a transaction kept
            # open over several awaits, with newcomers polling for the lock ahead of older
            # waiters, starved some requests for hundreds of ms under 16 concurrent decisions.
            now = self._now
            try:
                return await store.transact(lambda connection: _admit_here(connection, slots, now))
            except _Refused as refused:  # raised inside the transaction: nothing was counted
                return refused.refusal
        # What the client reports is read; a dry run only reads decision caps too, plus what it
        # would have counted earlier in the request.
        reads = [slot for slot in slots if slot.cap.event != "decision" or dry_run]
        for slot, count in zip(reads, await self._read_all(reads, store), strict=True):
            if dry_run:
                count += self._previewed.count(offer, slot.cap)
            if count >= slot.cap.limit:
                return slot.cap, count
        if dry_run:
            self._previewed.take(offer)
            return None
        taken: list[Slot] = []
        for slot in slots:
            if slot.cap.event != "decision":
                continue
            if not await self.take(slot):
                for earlier in taken:
                    await self.give_back(earlier)
                return slot.cap, await self.read(slot)
            taken.append(slot)
        return None


class _Refused(Exception):
    """Raised inside the transaction: rolls the offer's counts back."""

    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal


def _read_here(connection: sa.Connection, slot: Slot, now: datetime) -> int:
    key = slot.key
    if slot.cap.rolling:
        since = now - timedelta(seconds=slot.cap.seconds)
        found = connection.scalar(
            sa.select(sa.func.count()).where(*_rolling_key(key), CapEvent.at > since)
        )
    else:
        found = connection.scalar(
            sa.select(CapCounter.count).where(*(getattr(CapCounter, n) == key[n] for n in KEY))
        )
    return int(found or 0)


def _take_here(connection: sa.Connection, slot: Slot, now: datetime) -> bool:
    key, cap = slot.key, slot.cap
    if not cap.rolling:
        stmt = (
            upsert.insert_for("sqlite", CapCounter)
            .values(**{k: key[k] for k in KEY}, count=1)
            .on_conflict_do_update(
                index_elements=list(KEY),
                set_={"count": CapCounter.count + 1},
                where=CapCounter.count < cap.limit,
            )
            .returning(CapCounter.count)
        )
        return connection.execute(stmt).first() is not None
    since = now - timedelta(seconds=cap.seconds)
    connection.execute(sa.delete(CapEvent).where(*_rolling_key(key), CapEvent.at <= since))
    if _read_here(connection, slot, now) >= cap.limit:
        return False
    connection.execute(sa.insert(CapEvent).values(cap_event(key, now)))
    return True


def _admit_here(connection: sa.Connection, slots: list[Slot], now: datetime) -> Refusal | None:
    """:meth:`SqlCounters.admit` as one transaction on a sync SQLite connection (its write lock is
    the transaction's, so no row lock is needed); a refusal is raised, rolling the counts back."""
    for slot in slots:
        if slot.cap.event != "decision":
            count = _read_here(connection, slot, now)
            if count >= slot.cap.limit:
                return slot.cap, count
    for slot in slots:
        if slot.cap.event == "decision" and not _take_here(connection, slot, now):
            raise _Refused((slot.cap, _read_here(connection, slot, now)))
    return None


# KEYS: one counter per cap, then the marker. ARGV: per cap (limit, take 1|0, ttl seconds or
# window ms, rolling 1|0), then now (ms) and a unique member for rolling windows' sorted sets.
# Without the marker the counters are not known complete: {-1, 0}, nothing counted.
_ADMIT = Script("""
local n = #KEYS - 1
if redis.call('EXISTS', KEYS[n + 1]) == 0 then return {-1, 0} end
local now = tonumber(ARGV[4 * n + 1])
local function current(i)
  if ARGV[4 * i] == '1' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - tonumber(ARGV[4 * i - 1]))
    return redis.call('ZCARD', KEYS[i])
  end
  return tonumber(redis.call('GET', KEYS[i]) or '0')
end
for i = 1, n do
  local count = current(i)
  if count >= tonumber(ARGV[4 * i - 3]) then return {i, count} end
end
for i = 1, n do
  if ARGV[4 * i - 2] == '1' then
    local span = tonumber(ARGV[4 * i - 1])
    if ARGV[4 * i] == '1' then
      redis.call('ZADD', KEYS[i], now, ARGV[4 * n + 2])
      redis.call('PEXPIRE', KEYS[i], span)
    else
      local count = redis.call('INCR', KEYS[i])
      if count == 1 and span > 0 then redis.call('EXPIRE', KEYS[i], span) end
    end
  end
end
return {0, 0}
""")


def ms(at: datetime) -> int:
    """A time as Redis scores it: milliseconds since the epoch."""
    return int(at.timestamp() * 1000)


def redis_key(prefix: str, key: dict[str, Any]) -> str:
    # The {tenant:offer} hash tag keeps an offer's counters in one cluster slot for the script.
    return (
        f"{prefix}:cap:{{{key['tenant_id']}:{key['offer_id']}}}:"
        f"{key['cap_key']}:{key['subject']}:{key['bucket']}"
    )


def marker_key(prefix: str) -> str:
    """The key whose presence says Redis holds every cap count (see
    :mod:`offerengine.decisioning.recount`)."""
    return f"{prefix}:cap:generation"


def ttl(cap: core.Cap) -> int:
    return _TTL[cap.unit] if cap.window == "calendar" and cap.unit else 0


class RedisCounters:
    def __init__(
        self,
        line: RedisLine,
        prefix: str,
        tenant_id: uuid.UUID,
        profile: str,
        now: datetime,
        recount: Callable[[], None],  # called when Redis has lost the counts
    ) -> None:
        self._line = line
        self._prefix = prefix
        self._recount = recount
        self._tenant_id = tenant_id
        self._profile = profile
        self._now = now
        self._previewed = Previewed()

    async def admit(self, offer: core.OfferDef, dry_run: bool) -> Refusal | None:
        keys: list[str] = []
        args: list[int | str] = []
        # A dry run reads each cap's limit less what it would have counted earlier in the request.
        previewed = [self._previewed.count(offer, cap) if dry_run else 0 for cap in offer.caps]
        for cap, before in zip(offer.caps, previewed, strict=True):
            key = counter_key(self._tenant_id, offer.id, cap, self._profile, self._now)
            keys.append(redis_key(self._prefix, key))
            take = cap.event == "decision" and not dry_run
            span = cap.seconds * 1000 if cap.rolling else ttl(cap)
            args += [cap.limit - before, 1 if take else 0, span, 1 if cap.rolling else 0]
        keys.append(marker_key(self._prefix))
        args += [ms(self._now), uuid.uuid4().hex]
        if not dry_run and any(cap.event == "decision" for cap in offer.caps):
            budget.commit()  # the script counts: past the request's time budget, it may not
        try:
            refused, count = await self._line.evalsha(_ADMIT, keys, args)
        except RedisError as exc:
            raise Unavailable(
                "The cap counters (Redis) cannot be reached; nothing was counted. Retry."
            ) from exc
        if int(refused) == 0:
            if dry_run:
                self._previewed.take(offer)
            return None
        if int(refused) < 0:
            self._recount()
            raise Unavailable(
                "The cap counters (Redis) lost their counts and are being rebuilt from the "
                "database; nothing was counted. Retry in a moment."
            )
        return offer.caps[int(refused) - 1], int(count) + previewed[int(refused) - 1]


def for_request(
    ctx: AppContext, stack: AsyncExitStack, tenant_id: uuid.UUID, profile: str, now: datetime
) -> Counters:
    if ctx.line is not None and ctx.recount is not None:
        prefix = ctx.settings.redis_prefix
        return RedisCounters(ctx.line, prefix, tenant_id, profile, now, ctx.recount.ensure)
    return SqlCounters(ctx, stack, tenant_id, profile, now)


async def count_event(
    redis: Redis | None,
    prefix: str,
    session: AsyncSession | None,
    key: dict[str, Any],
    cap: core.Cap,
    at: datetime,
) -> None:
    """One more event against an event cap: in ``redis`` (keys under ``prefix``) when given,
    else in the session."""
    if redis is None:
        assert session is not None, "database counters are counted in a transaction"
        if cap.rolling:
            await lock(session, key)
            await session.execute(sa.insert(CapEvent).values(cap_event(key, at)))
        else:
            await count_up(session, key, None)
        return
    name = redis_key(prefix, key)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            if cap.rolling:
                pipe.zadd(name, {uuid.uuid4().hex: ms(at)})
                pipe.pexpire(name, cap.seconds * 1000)
            else:
                pipe.incr(name)
                if ttl(cap):
                    pipe.expire(name, ttl(cap), nx=True)
            await pipe.execute()
    except RedisError as exc:  # the events are stored; only this count is missed
        log.warning("cap_event_not_counted", counter=name, error=str(exc))


async def global_usage(
    ctx: AppContext, tenant_id: uuid.UUID, offer: core.OfferDef, cap: core.Cap, now: datetime
) -> int:
    """How much of a global cap is used in its current window, read without counting (for the
    admin UI's cap utilisation), from wherever the counters live."""
    key = counter_key(tenant_id, offer.id, cap, "", now)
    if ctx.redis is not None:
        name = redis_key(ctx.settings.redis_prefix, key)
        try:
            if cap.rolling:
                return int(await ctx.redis.zcount(name, f"({ms(now) - cap.seconds * 1000}", "+inf"))
            return int(await ctx.redis.get(name) or 0)
        except RedisError as exc:
            raise Unavailable("The cap counters (Redis) cannot be reached.") from exc
    async with ctx.session_factory() as session:
        if cap.rolling:
            return await rolling_count(session, key, cap, now)
        found = await session.scalar(
            sa.select(CapCounter.count).where(*(getattr(CapCounter, n) == key[n] for n in KEY))
        )
        return int(found or 0)
