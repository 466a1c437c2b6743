"""Records into their tables: the statements of one batch, and the dead-letter table's writes.

A batch is written in one transaction. Its plain rows go through :func:`db.rows.insert_many` (the
ORM's bulk path, and then SQLAlchemy's own multi-row insert, spent more than the database on these
rows), each leaving out a row stored already: records are written at least once (a stream
redelivers, a dead letter is re-driven) and stored once. The counts its searches add up (offers
shown per type, segment and day) are upserts computed from the searches the batch actually
stored, so a record refused and set aside, or written twice, counts once or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.commerce.models import QuoteLine, StoredQuote
from offerengine.db import upsert
from offerengine.db.base import utcnow
from offerengine.db.rows import insert_many, insert_tuples
from offerengine.decisioning.models import Decision as DecisionRow
from offerengine.experiments.models import Exposure as ExposureRow
from offerengine.ids import new_time_uuid
from offerengine.learning.models import DecisionLog
from offerengine.observability.logging import get_logger
from offerengine.recording import records as r
from offerengine.recording.models import DeadLetter
from offerengine.shopping.models import OfferBody, OfferDay, OfferStat, StoredSearch
from offerengine.tenants.models import Tenant

log = get_logger("offerengine.recording")
T = TypeVar("T")

STAT_KEYS = ["tenant_id", "offer_type", "segment"]  # an offer type's shown/ordered counts


_SEARCH_COLUMNS = tuple(c.key for c in StoredSearch.__table__.columns if c.key != "tenant_id")
_QUOTE_COLUMNS = tuple(
    c.key
    for c in StoredQuote.__table__.columns
    if c.key not in ("tenant_id", "status", "accepted_at")
)


def _table(model: Any) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _log_row(tenant_id: Any, log: r.ChoiceLog) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "decision_id": log.decision_id,
        "activity_id": log.activity_id,
        "rank": log.rank,
        "made_at": log.made_at,
        "offer_id": log.offer_id,
        "propensity": log.propensity,
        "candidates": log.candidates,
        "contexts": log.contexts,
        "model": log.model,
        "shadow": log.shadow,
    }


def write(connection: sa.Connection, batch: Sequence[r.Record]) -> None:
    """Store ``batch`` (records of any kinds) on ``connection``, in its transaction. A record
    stored already is left as it is, and the counts its search adds up are added only by the
    write that stored it: a record written twice (redelivered, or re-driven) is stored once."""
    rows = _Rows()
    for record in batch:
        rows.add(record)
    stored = rows.insert(connection)
    _count_shown(connection, [rows.shown[key] for key in stored])


@dataclass
class _Rows:
    """A batch's rows, by table; and its searches by id, to count the ones the write stored."""

    searches: list[dict[str, Any]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    quotes: list[dict[str, Any]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    exposures: list[dict[str, Any]] = field(default_factory=list)
    shown: dict[str, r.Search] = field(default_factory=dict)

    def add(self, record: r.Record) -> None:
        """The record's rows, in the tables of its kind."""
        if isinstance(record, r.Search):
            self._add_search(record)
        elif isinstance(record, r.Decision):
            self._add_decision(record)
        elif isinstance(record, r.Quote):
            self._add_quote(record)
        elif isinstance(record, r.Exposure):
            self._add_exposure(record)
        else:  # pragma: no cover - every kind is handled above
            raise TypeError(f"no table for {type(record).__name__}")

    def _add_search(self, record: r.Search) -> None:
        tenant_id = record.tenant_id
        row = {c: getattr(record, c) for c in _SEARCH_COLUMNS}
        row["tenant_id"] = tenant_id
        self.searches.append(row)
        self.shown[record.id] = record
        for body in record.bodies:
            self.bodies.append(
                {
                    "id": body.id,
                    "tenant_id": tenant_id,
                    "members_json": body.members_json,
                    "basis_json": body.basis_json,
                    "expires_at": body.expires_at,
                }
            )
        self.logs.extend(_log_row(tenant_id, log) for log in record.logs)

    def _add_decision(self, record: r.Decision) -> None:
        self.decisions.append(
            {
                "id": record.id,
                "tenant_id": record.tenant_id,
                "profile_id": record.profile_id,
                "made_at": record.made_at,
                "propositions": record.propositions,
            }
        )
        self.logs.extend(_log_row(record.tenant_id, log) for log in record.logs)

    def _add_quote(self, record: r.Quote) -> None:
        tenant_id = record.tenant_id
        row = {c: getattr(record, c) for c in _QUOTE_COLUMNS}
        row.update(tenant_id=tenant_id, status="QUOTED", accepted_at=None)
        self.quotes.append(row)
        self.lines.extend((tenant_id, record.id, *line) for line in record.lines)

    def _add_exposure(self, record: r.Exposure) -> None:
        self.exposures.append(
            {
                "id": new_time_uuid(),
                "tenant_id": record.tenant_id,
                "experiment_id": record.experiment_id,
                "unit_id": record.unit_id,
                "variant": record.variant,
                "bucket": record.bucket,
                "exposed_at": record.exposed_at,
            }
        )

    def insert(self, connection: sa.Connection) -> list[Any]:
        """Insert the rows, each one stored already left out; the ids of the searches stored
        now."""
        insert_many(connection, _table(OfferBody), self.bodies, skip_existing=True)
        stored = insert_many(
            connection, _table(StoredSearch), self.searches, skip_existing=True, returning="id"
        )
        insert_many(connection, _table(DecisionRow), self.decisions, skip_existing=True)
        insert_many(connection, _table(DecisionLog), self.logs, skip_existing=True)
        insert_many(connection, _table(StoredQuote), self.quotes, skip_existing=True)
        insert_tuples(connection, _table(QuoteLine), self.lines, skip_existing=True)
        if self.exposures:  # the first exposure of a unit stays (sticky)
            connection.execute(
                upsert.insert_for(connection.dialect.name, ExposureRow).on_conflict_do_nothing(
                    index_elements=["experiment_id", "unit_id"]
                ),
                self.exposures,
            )
        return stored


def _count_shown(connection: sa.Connection, searches: Sequence[r.Search]) -> None:
    """Add up the offers ``searches`` showed: per type and segment, and per day and type."""
    dialect = connection.dialect.name
    counts: Counter[tuple[Any, str, str]] = Counter()
    days: Counter[tuple[Any, Any, str]] = Counter()
    for search in searches:
        day = search.created_at.date()
        for offer_type in search.shown:
            counts[(search.tenant_id, offer_type, search.segment)] += 1
            days[(search.tenant_id, day, offer_type)] += 1
    if counts:
        connection.execute(
            upsert.add_up_statement(dialect, OfferStat, STAT_KEYS, ["shown", "ordered"]),
            [
                {"tenant_id": t, "offer_type": k, "segment": g, "shown": n, "ordered": 0}
                for (t, k, g), n in sorted(counts.items())
            ],
        )
    if days:
        connection.execute(
            upsert.add_up_statement(
                dialect, OfferDay, ["tenant_id", "day", "offer_type"], ["shown"]
            ),
            [
                {"tenant_id": t, "day": d, "offer_type": k, "shown": n}
                for (t, d, k), n in sorted(days.items())
            ],
        )


def dead_letter_statement(dialect: str) -> Any:
    """Insert dead letters; one already kept for the same record is left as it is (a record
    set aside twice, by two flushes or two consumers, is one dead letter)."""
    return upsert.insert_for(dialect, DeadLetter).on_conflict_do_nothing(
        index_elements=["kind", "record_id"]
    )


def dead_letter_row(record: r.Record, error: str, *, source: str, at: datetime) -> dict[str, Any]:
    """The dead letter of a record the database refused."""
    return letter_row(
        tenant_id=record.tenant_id,
        kind=r.kind_of(record),
        record_id=record.record_id,
        error=error,
        payload=r.to_json(record),
        source=source,
        at=at,
    )


def letter_row(
    *,
    tenant_id: uuid.UUID | None,
    kind: str,
    record_id: str,
    error: str,
    payload: str,
    source: str,
    at: datetime,
) -> dict[str, Any]:
    """A dead letter's row; ``payload`` is ASCII JSON."""
    return {
        "id": new_time_uuid(),
        "tenant_id": tenant_id,
        "kind": kind,
        "record_id": record_id[:200],
        "source": source[:60],
        "error": error[:4000],
        "payload": payload,
        "created_at": at,
        "redriven_at": None,
    }


# The database is away (or busy), not refusing these records: keep them and try again.
_UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    ConnectionError,
    TimeoutError,
)


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says the database is away rather than that it refuses the records."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, _UNAVAILABLE)


def brief(error: BaseException) -> str:
    """An error without the statement and parameters SQLAlchemy adds (customers' data)."""
    if isinstance(error, sa_exc.StatementError) and error.orig is not None:
        return f"{type(error.orig).__name__}: {str(error.orig).strip()}"[:2000]
    return f"{type(error).__name__}: {error}"[:2000]


def error_kind(error: str) -> str:
    """The head of a dead letter's error, for its log line (``IntegrityError``, a field's
    name): never the values the rest may quote. The whole error stays in the letter's row."""
    return error.split(":", 1)[0][:80]


@dataclass
class Settled:
    """What a write did with its batch: records stored (or found stored already), records set
    aside with the error, records dropped because their tenant is gone."""

    written: list[r.Record] = field(default_factory=list)
    refused: list[tuple[r.Record, str]] = field(default_factory=list)
    dropped: list[r.Record] = field(default_factory=list)


class RecordStore:
    """Batches of records into the database, each in one transaction; a batch the database
    refuses is split in halves, and the halves again, until each refused record stands alone;
    those go to the ``dead_letters`` table with the error and everything else is written. A
    refusal is anything but the database being away: an outage (a connection refused or lost,
    SQLite busy) is raised, and the caller keeps the batch for later. A record whose tenant was
    deleted meanwhile is dropped, not dead-lettered.

    With a sync ``engine`` the transactions run on a thread of their own (one hand-off to the
    event loop per transaction, where each statement awaited on the loop had waited for a turn
    behind every request in flight); without one, through ``session_factory`` on the loop."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        engine: sa.Engine | None,
        is_sqlite: bool,
        source: str,
    ) -> None:
        self._session_factory = session_factory
        self._engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"records-{source}")
        # Reads (cap counts a preview checks) on a thread of their own: under WAL they need no
        # lock, so they must not queue behind the batches.
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"reads-{source}")
        self._is_sqlite = is_sqlite
        self.source = source
        # SQLite: the record stores of every worker on this host take turns through a lock file
        # the kernel queues them on, before SQLite's own lock. SQLite's busy handler polls, with
        # sleeps growing to 100 ms, and a newcomer takes the lock ahead of older waiters: two
        # workers' stores (flushes and cap counts) starved each other for hundreds of ms.
        self._turns: int | None = None
        database = engine.url.database if engine is not None and is_sqlite else None
        if database and database != ":memory:":
            self._turns = os.open(f"{database}.write-turn", os.O_RDWR | os.O_CREAT, 0o600)

    async def write(self, batch: list[r.Record]) -> Settled:
        """Store ``batch`` (see the class's doc)."""
        settled = Settled()
        if batch:
            await self._settle(batch, settled)
        return settled

    @property
    def threaded(self) -> bool:
        """Whether transactions run on the store's own thread and connection."""
        return self._engine is not None

    async def transact(self, work: Callable[[sa.Connection], T]) -> T:
        """``work`` in one write transaction on the store's thread, queued with its batches (first
        come, first served, without SQLite's busy-wait): one hop from the event loop for the whole
        transaction, so SQLite's write lock is held for the statements alone, never across the
        loop's turns. Only for a :attr:`threaded` store."""
        assert self._engine is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transact_here, work)

    async def read(self, work: Callable[[sa.Connection], T]) -> T:
        """``work`` on the store's reading thread and connection, outside any write transaction:
        one hop from the event loop for all its statements, where a session of the loop's pool
        takes one per statement, each behind every request in flight (the tail of SQLite-counted
        previews). Only for a :attr:`threaded` store."""
        assert self._engine is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._read_here, work)

    def _read_here(self, work: Callable[[sa.Connection], T]) -> T:
        assert self._engine is not None
        with self._engine.connect() as connection:
            return work(connection)

    def _transact_here(self, work: Callable[[sa.Connection], T]) -> T:
        assert self._engine is not None
        with self._turn(), self._engine.connect() as connection:
            if self._is_sqlite:
                connection.execution_options(sqlite_immediate=True)
            with connection.begin():
                return work(connection)

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """This host's turn to write the SQLite file (a no-op elsewhere)."""
        if self._turns is None:
            yield
            return
        fcntl.flock(self._turns, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._turns, fcntl.LOCK_UN)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._reader.shutdown(wait=True)
        if self._engine is not None:
            self._engine.dispose()
        if self._turns is not None:
            os.close(self._turns)
            self._turns = None

    async def _settle(self, batch: list[r.Record], settled: Settled) -> None:
        try:
            await self._run(write, batch)
        except Exception as exc:
            if is_outage(exc):
                raise
            if len(batch) > 1:
                middle = len(batch) // 2
                await self._settle(batch[:middle], settled)
                await self._settle(batch[middle:], settled)
                return
            await self._set_aside(batch[0], exc, settled)
        else:
            settled.written.extend(batch)

    async def _set_aside(self, record: r.Record, error: Exception, settled: Settled) -> None:
        if await self._tenant_gone(record):
            log.info("record_dropped", kind=r.kind_of(record), reason="its tenant was deleted")
            settled.dropped.append(record)
            return
        text = brief(error)
        await self.dead_letter(record, text)
        settled.refused.append((record, text))

    async def dead_letter(self, record: r.Record, error: str) -> None:
        """Keep ``record`` in the dead letters with ``error`` (once: a record set aside again
        keeps its first letter)."""
        row = dead_letter_row(record, error, source=self.source, at=utcnow())
        await self.keep_letter(row)
        # The error's kind and the record's key only: its parameters hold customers' data.
        log.warning(
            "record_dead_lettered",
            kind=row["kind"],
            record_id=row["record_id"],
            tenant_id=str(record.tenant_id),
            source=self.source,
            error=error_kind(error),
        )

    async def keep_letter(self, row: dict[str, Any]) -> None:
        """Insert a dead letter's row (:func:`letter_row`), unless one for it is kept already."""

        def insert(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
            connection.execute(dead_letter_statement(connection.dialect.name), rows)

        await self._run(insert, [row])

    async def _tenant_gone(self, record: r.Record) -> bool:
        async with self._session_factory() as session:
            return await session.get(Tenant, record.tenant_id) is None

    async def _run(self, work: Callable[[sa.Connection, Any], None], argument: Any) -> None:
        """``work(connection, argument)`` in one transaction."""
        if self._engine is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._thread, self._run_here, work, argument)
            return
        async with self._session_factory() as session:
            if self._is_sqlite:
                await session.connection(execution_options={"sqlite_immediate": True})
            connection = await session.connection()
            await connection.run_sync(work, argument)
            await session.commit()

    def _run_here(self, work: Callable[[sa.Connection, Any], None], argument: Any) -> None:
        assert self._engine is not None
        with self._turn(), self._engine.connect() as connection:
            if self._is_sqlite:
                connection.execution_options(sqlite_immediate=True)
            with connection.begin():
                work(connection, argument)
