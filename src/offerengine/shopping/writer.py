"""Offers (and decision events) are written behind the response, in batches.

A search answers from memory; its offers (and the shown counts that rank offers) join a worker-
local buffer that one background task writes in a single transaction every ``flush_seconds``
(50 ms by default). Until then the worker that made them serves them from the buffer; another
worker asked for an offer it cannot find yet waits for it (offer ids begin with their creation
time in milliseconds, so it knows the offer is recent). Offers are quotes that expire in minutes:
a worker killed before a flush loses the offers of its last few milliseconds, never an order.
Decisions and quotes are recorded the same way (their ids, too, begin with their time); what
must be exact — cap counters, coupon usage — is written in its own transaction, never here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any, NamedTuple, cast

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.commerce.models import QuoteLine, StoredQuote
from offerengine.db import upsert
from offerengine.db.rows import insert_many, insert_tuples
from offerengine.decisioning.models import Decision
from offerengine.experiments.models import Exposure
from offerengine.learning.models import DecisionLog
from offerengine.observability.logging import get_logger
from offerengine.shopping.models import (
    Offer,
    OfferBody,
    OfferDay,
    OfferStat,
    StoredSearch,
    place_of,
)

log = get_logger("offerengine.shopping")
MAX_PENDING = 200_000  # offers kept while the database is away; beyond, the oldest are dropped
# Searches, decisions and quotes waiting while the database takes writes: beyond this, requests
# wait for the flush under way (backpressure), so the backlog and the memory it holds stay bounded
# by what the database can write rather than by what clients send.
BACKLOG = 10_000
STAT_KEYS = ["tenant_id", "offer_type", "segment"]  # an offer type's shown/ordered counts
VISIBLE_WITHIN = 2.0  # seconds: how long another worker may have to wait for what is written
# A lookup (GET, price, order) of a young offer or quote that this worker cannot find waits this
# long after its creation for another worker's flush: longer than VISIBLE_WITHIN, because under
# saturating load a flush has been seen taking most of it (and an offer just handed out that
# answers 404 is worse than a slower 404 for an id nobody made).
LOOKUP_WITHIN = 5.0


class Tuples(NamedTuple):
    """A statement of a flush: insert rows given as tuples (in its columns' order) into ``table``."""

    table: sa.Table


# A flush's statements, each with its rows: a table and its rows as mappings, Tuples and its rows
# as tuples, or a statement and its parameters.
Statements = list[tuple[Any, list[Any]]]


# Offer ids need to be unique, not secret (a tenant's keys see only its own offers): a generator
# seeded from the OS once per process is ~10x cheaper than a system call per id.
_random = random.Random(os.urandom(32))  # noqa: S311 (ids, not secrets)


def new_body_id() -> str:
    """32 hex digits: milliseconds since the epoch (12), then 80 random bits."""
    return f"{int(time.time() * 1000):012x}{_random.getrandbits(80):020x}"


def new_search_key() -> str:
    """The id of a search's row, which its offer ids begin with: 30 hex digits, milliseconds
    since the epoch (12), then 72 random bits."""
    return f"{int(time.time() * 1000):012x}{_random.getrandbits(72):018x}"


def new_search_id() -> str:
    return f"{_random.getrandbits(128):032x}"


def new_time_uuid() -> uuid.UUID:
    """A UUID (version 7 layout) that begins with its creation time in milliseconds."""
    value = (int(time.time() * 1000) << 80) | _random.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


def decision_age_seconds(decision_id: uuid.UUID) -> float:
    return time.time() - (decision_id.int >> 80) / 1000


def age_seconds(offer_id: str) -> float | None:
    try:
        return time.time() - int(offer_id[:12], 16) / 1000
    except ValueError:
        return None


class OfferWriter:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        is_sqlite: bool,
        flush_seconds: float = 0.05,
        engine: sa.Engine | None = None,
    ) -> None:
        """``engine``, when given, is a sync engine of the same database that the writer uses
        from a thread of its own (see ``db.engine.create_writer_engine``); without it, flushes
        go through ``session_factory`` on the event loop."""
        self._session_factory = session_factory
        self._engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="offer-writer")
        self._is_sqlite = is_sqlite
        self._flush_seconds = flush_seconds
        self._pending: dict[str, dict[str, Any]] = {}
        self._bodies: dict[str, dict[str, Any]] = {}
        self._counts: Counter[tuple[uuid.UUID, str, str]] = Counter()
        self._days: Counter[tuple[uuid.UUID, date, str]] = Counter()
        self._exposures: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}
        self._decisions: dict[uuid.UUID, dict[str, Any]] = {}
        self._quotes: dict[uuid.UUID, tuple[dict[str, Any], list[tuple[Any, ...]]]] = {}
        self._logs: list[dict[str, Any]] = []  # searches' conversion-model logs
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # One flush at a time: two would both write what is pending, and the second, refused
        # for rows the first wrote, would drop the lot.
        self._flushing = asyncio.Lock()
        self._flushed = asyncio.Event()  # set, and replaced, at the end of every flush
        self._taking_writes = True  # the last flush reached the database

    def behind(self) -> bool:
        """Whether more is waiting than ``BACKLOG`` while the database takes writes."""
        return (
            len(self._pending) + len(self._decisions) + len(self._quotes) > BACKLOG
            and self._taking_writes
        )

    async def catch_up(self) -> None:
        """Wait while the writer is ``behind``: a request that would add to the backlog waits for
        flushes to bring it down. While the database is away nothing waits (what is pending is
        kept, up to ``MAX_PENDING``)."""
        while self.behind():
            self._wake.set()
            await self._flushed.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="offer-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()
        if self._engine is not None:
            self._engine.dispose()
            self._thread.shutdown(wait=True)

    def add(
        self,
        row: dict[str, Any],
        shown: Sequence[str],
        bodies: Sequence[dict[str, Any]] = (),
    ) -> None:
        """A search's row, the types of the offers it ``shown`` (for the counts that rank offers
        and the dashboards), and the body rows its offers point at that are new."""
        for body in bodies:
            self._bodies[body["id"]] = body
        self._pending[row["id"]] = row
        tenant_id, segment, day = row["tenant_id"], row["segment"], row["created_at"].date()
        for offer_type in shown:
            self._counts[(tenant_id, offer_type, segment)] += 1
            self._days[(tenant_id, day, offer_type)] += 1
        while len(self._pending) > MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))
        while len(self._bodies) > MAX_PENDING:
            self._bodies.pop(next(iter(self._bodies)))
        self._wake.set()

    def expose(self, tenant_id: uuid.UUID, exposures: list[dict[str, Any]], at: datetime) -> None:
        """Units a search put in experiments: their first exposure is recorded (once) with the
        next flush; the variant is the hash's, so every worker already agrees on it."""
        for e in exposures:
            key = (e["experiment_id"], e["unit_id"])
            if key not in self._exposures:
                self._exposures[key] = {
                    **e,
                    "id": uuid.uuid4(),
                    "tenant_id": tenant_id,
                    "exposed_at": at,
                }
        if exposures:
            self._wake.set()

    def decided(self, decision: dict[str, Any]) -> None:
        """A decision row to insert with the next flush."""
        self._decisions[decision["id"]] = decision
        while len(self._decisions) > MAX_PENDING:
            self._decisions.pop(next(iter(self._decisions)))
        self._wake.set()

    def logged(self, logs: list[dict[str, Any]]) -> None:
        """A search's conversion-model logs (``decision_logs`` rows) to insert with the next
        flush."""
        if logs:
            self._logs.extend(logs)
            del self._logs[: max(0, len(self._logs) - MAX_PENDING)]
            self._wake.set()

    def pending_decision(self, decision_id: uuid.UUID) -> dict[str, Any] | None:
        return self._decisions.get(decision_id)

    def quoted(self, quote: dict[str, Any], lines: list[tuple[Any, ...]]) -> None:
        """A quote row and its lines (tuples in QuoteLine's column order) to insert with the next
        flush."""
        self._quotes[quote["id"]] = (quote, lines)
        while len(self._quotes) > MAX_PENDING:
            self._quotes.pop(next(iter(self._quotes)))
        self._wake.set()

    def pending_quote(self, quote_id: uuid.UUID) -> dict[str, Any] | None:
        found = self._quotes.get(quote_id)
        return None if found is None else found[0]

    def pending(self, key: str) -> dict[str, Any] | None:
        """A search's row not written yet."""
        return self._pending.get(key)

    def pending_body(self, body_id: str) -> dict[str, Any] | None:
        return self._bodies.get(body_id)

    async def flush(self) -> int:
        """Write what is pending in one transaction; if the database is away it stays pending for
        next time. A batch the database refuses (a tenant or experiment deleted meanwhile) is
        written tenant by tenant, and what is still refused is dropped and logged, so that one
        bad row never holds back the others."""
        async with self._flushing:
            try:
                written = await self._flush()
            except Exception:
                self._taking_writes = False
                raise
            else:
                self._taking_writes = True
                return written
            finally:
                self._flushed.set()
                self._flushed = asyncio.Event()

    async def _flush(self) -> int:
        if not (
            self._pending
            or self._bodies
            or self._counts
            or self._exposures
            or self._decisions
            or self._quotes
            or self._logs
        ):
            return 0
        rows = list(self._pending.values())
        bodies = list(self._bodies.values())
        logs = list(self._logs)
        counts = dict(self._counts)
        days = dict(self._days)
        exposures = dict(self._exposures)
        decisions = list(self._decisions.values())
        quotes = list(self._quotes.values())
        dialect = "sqlite" if self._is_sqlite else "postgresql"
        try:
            await self._write(
                _statements(dialect, rows, bodies, counts, days, exposures, decisions, quotes, logs)
            )
        except IntegrityError:
            for tenant_id in (
                {r["tenant_id"] for r in rows}
                | {b["tenant_id"] for b in bodies}
                | {k[0] for k in counts}
                | {k[0] for k in days}
                | {e["tenant_id"] for e in exposures.values()}
                | {d["tenant_id"] for d in decisions}
                | {q["tenant_id"] for q, _ in quotes}
                | {g["tenant_id"] for g in logs}
            ):
                try:
                    statements = _statements(
                        dialect,
                        [r for r in rows if r["tenant_id"] == tenant_id],
                        [b for b in bodies if b["tenant_id"] == tenant_id],
                        {k: n for k, n in counts.items() if k[0] == tenant_id},
                        {k: n for k, n in days.items() if k[0] == tenant_id},
                        {k: e for k, e in exposures.items() if e["tenant_id"] == tenant_id},
                        [d for d in decisions if d["tenant_id"] == tenant_id],
                        [q for q in quotes if q[0]["tenant_id"] == tenant_id],
                        [g for g in logs if g["tenant_id"] == tenant_id],
                    )
                    await self._write(statements)
                except IntegrityError as exc:
                    log.warning("offers_dropped", tenant_id=str(tenant_id), error=str(exc.orig))
        for key in exposures:
            self._exposures.pop(key, None)
        for decision in decisions:
            self._decisions.pop(decision["id"], None)
        for quote, _ in quotes:
            self._quotes.pop(quote["id"], None)
        for row in rows:
            self._pending.pop(row["id"], None)
        for body in bodies:
            self._bodies.pop(body["id"], None)
        del self._logs[: len(logs)]
        self._counts.subtract(counts)
        self._counts = +self._counts  # drop the zeros
        self._days.subtract(days)
        self._days = +self._days
        return len(rows)

    async def _write(self, statements: Statements) -> None:
        """One transaction of ``statements`` (see ``_statements``)."""
        if self._engine is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._thread, self._write_here, statements)
            return
        async with self._session_factory() as session:
            if self._is_sqlite:
                await session.connection(execution_options={"sqlite_immediate": True})
            connection = await session.connection()
            await connection.run_sync(_execute, statements)
            await session.commit()

    def _write_here(self, statements: Statements) -> None:
        """The transaction, on the writer's own thread and connection: one hand-off to the event
        loop for the whole flush, where each statement awaited on the loop had waited for a
        turn behind every request in flight (seconds per flush under load)."""
        assert self._engine is not None
        with self._engine.connect() as connection:
            if self._is_sqlite:
                connection.execution_options(sqlite_immediate=True)
            with connection.begin():
                _execute(connection, statements)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._flush_seconds)  # gather the searches of this interval
            self._wake.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be briefly away: keep and retry
                log.warning("offer_flush_failed", error=str(exc), pending=len(self._pending))
                self._wake.set()
                await asyncio.sleep(1.0)


async def count(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    offer_type: str,
    segment: str,
    *,
    shown: int = 0,
    ordered: int = 0,
) -> None:
    """Add to the shown and ordered counts of an offer type for a segment."""
    await _count_stats(
        session,
        [
            {
                "tenant_id": tenant_id,
                "offer_type": offer_type,
                "segment": segment,
                "shown": shown,
                "ordered": ordered,
            }
        ],
    )


def _execute(connection: sa.Connection, statements: Statements) -> None:
    """Run a flush's statements; a table stands for inserting the rows into it."""
    for statement, parameters in statements:
        if isinstance(statement, sa.Table):
            insert_many(connection, statement, parameters)
        elif isinstance(statement, Tuples):
            insert_tuples(connection, statement.table, parameters)
        else:
            connection.execute(statement, parameters)


def _statements(
    dialect: str,
    rows: list[dict[str, Any]],
    bodies: list[dict[str, Any]],
    counts: dict[tuple[uuid.UUID, str, str], int],
    days: dict[tuple[uuid.UUID, date, str], int],
    exposures: dict[tuple[uuid.UUID, str], dict[str, Any]],
    decisions: list[dict[str, Any]],
    quotes: list[tuple[dict[str, Any], list[tuple[Any, ...]]]],
    logs: list[dict[str, Any]],
) -> Statements:
    """A flush's statements, each with its rows: the plain inserts through
    :func:`insert_many` (the ORM's bulk path, and then SQLAlchemy's own multi-row insert, spent
    more than the database on these rows), the counts as upserts."""
    found: Statements = []

    def insert(model: Any, some: list[dict[str, Any]]) -> None:
        if some:
            found.append((cast(sa.Table, model.__table__), some))

    insert(OfferBody, bodies)
    insert(StoredSearch, rows)
    logs = [*logs, *(log for d in decisions for log in d.get("logs", ()))]
    insert(  # the bandits' logs go to their own table
        Decision,
        [{k: v for k, v in d.items() if k != "logs"} if "logs" in d else d for d in decisions],
    )
    insert(DecisionLog, logs)
    insert(StoredQuote, [q for q, _ in quotes])
    lines = [line for _, some in quotes for line in some]
    if lines:
        found.append((Tuples(cast(sa.Table, QuoteLine.__table__)), lines))
    if counts:
        found.append(
            (
                upsert.add_up_statement(dialect, OfferStat, STAT_KEYS, ["shown", "ordered"]),
                [
                    {"tenant_id": t, "offer_type": k, "segment": g, "shown": n, "ordered": 0}
                    for (t, k, g), n in sorted(counts.items())
                ],
            )
        )
    if days:
        found.append(
            (
                upsert.add_up_statement(
                    dialect, OfferDay, ["tenant_id", "day", "offer_type"], ["shown"]
                ),
                [
                    {"tenant_id": t, "day": d, "offer_type": k, "shown": n}
                    for (t, d, k), n in sorted(days.items())
                ],
            )
        )
    if exposures:
        found.append(
            (
                upsert.insert_for(dialect, Exposure).on_conflict_do_nothing(
                    index_elements=["experiment_id", "unit_id"]
                ),
                list(exposures.values()),
            )
        )
    return found


async def _count_stats(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await upsert.add_up(session, OfferStat, rows, STAT_KEYS, ["shown", "ordered"])


async def find(
    writer: OfferWriter,
    session_factory: async_sessionmaker[AsyncSession],
    offer_id: str,
) -> Offer | None:
    """The offer from this worker's buffer or the database; a recent one another worker made is
    waited for (up to ``LOOKUP_WITHIN`` seconds after its creation)."""
    key, place = place_of(offer_id)
    while True:
        row = writer.pending(key)
        if row is None:
            async with session_factory() as session:
                found = await session.get(StoredSearch, key)
                if found is not None:
                    row = {c.key: getattr(found, c.key) for c in StoredSearch.__table__.columns}
        if row is not None:
            own = msgspec.json.decode(row["offers_json"]).get(place)
            if own is None:
                return None
            body = writer.pending_body(own["body_id"])
            if body is None:  # written already (perhaps by an earlier search: a reused result)
                async with session_factory() as session:
                    stored = await session.get(OfferBody, own["body_id"])
                if stored is None:
                    return None
                return Offer.of(offer_id, row, own, stored.members_json, stored.basis_json)
            return Offer.of(offer_id, row, own, body["members_json"], body["basis_json"])
        age = age_seconds(offer_id)
        if age is None or age > LOOKUP_WITHIN or age < -1:
            return None
        await asyncio.sleep(0.02)
