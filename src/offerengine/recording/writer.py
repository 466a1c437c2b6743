"""The embedded recorder: run-time records written behind the response, in batches.

A flow hands its records to :meth:`Recorder.record` and answers; one background task writes what
is pending in a single transaction every ``flush_seconds`` (50 ms by default), on a thread with a
connection of its own (``db.engine.create_writer_engine``). Until then the worker that made a
record serves it from memory (:meth:`Recorder.young`); another worker asked for one it cannot
find yet waits for it (record ids begin with their creation time, so it knows the record is
recent).

A batch the database refuses is not retried whole: it is split in halves, and the halves again,
until each refused record stands alone; those go to the ``dead_letters`` table with the error
(kept as ASCII JSON, so that the text the database refused is kept as an escape) and everything
else is written. A refusal is anything but the database being away: an outage (a connection
refused or lost, SQLite busy) keeps the batch pending for the next flush instead. A record whose
tenant was deleted meanwhile is dropped, not dead-lettered.

What a ``kill -9`` can lose is what is pending: at most one flush interval of records (and, while
the database is away, everything since it went). ``stop`` (graceful shutdown) writes it all.
What must be exact — cap counters, coupon usage, orders — is written in its own transaction,
never here.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.db.base import utcnow
from offerengine.observability.logging import get_logger
from offerengine.observability.metrics import Metrics
from offerengine.recording import records as r
from offerengine.recording import store
from offerengine.tenants.models import Tenant

log = get_logger("offerengine.recording")
MAX_PENDING = 200_000  # records kept while the database is away; beyond, the oldest are dropped
# Records waiting while the database takes writes: beyond this, requests wait for the flush under
# way (backpressure), so the backlog and the memory it holds stay bounded by what the database can
# write rather than by what clients send.
BACKLOG = 10_000
VISIBLE_WITHIN = 2.0  # seconds: how long another worker may have to wait for what is written
# A lookup (GET, price, order, accept) of a young record that this worker cannot find waits this
# long after its creation for another worker's flush: longer than VISIBLE_WITHIN, because under
# saturating load a flush has been seen taking most of it (and an offer just handed out that
# answers 404 is worse than a slower 404 for an id nobody made).
LOOKUP_WITHIN = 5.0
SOURCE = "writer"

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


@dataclass
class Settled:
    """What a flush did with its batch: records written, and records set aside with the error."""

    written: list[r.Record] = field(default_factory=list)
    refused: list[tuple[r.Record, str]] = field(default_factory=list)
    dropped: list[r.Record] = field(default_factory=list)  # their tenant is gone


class Recorder:
    """The embedded write-behind (see the module's doc)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        is_sqlite: bool,
        flush_seconds: float = 0.05,
        engine: sa.Engine | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``engine``, when given, is a sync engine of the same database that the writer uses
        from a thread of its own; without it, flushes go through ``session_factory`` on the
        event loop. ``metrics`` counts records kept, written and set aside."""
        self._session_factory = session_factory
        self._engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        self._dialect = "sqlite" if is_sqlite else "postgresql"
        self._is_sqlite = is_sqlite
        self._flush_seconds = flush_seconds
        self._metrics = metrics
        self._pending: dict[tuple[Any, ...], r.Record] = {}
        self._bodies: dict[str, r.OfferBody] = {}  # the pending searches' new offer bodies
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # One flush at a time: two would both write what is pending.
        self._flushing = asyncio.Lock()
        self._flushed = asyncio.Event()  # set, and replaced, at the end of every flush
        self._taking_writes = True  # the last flush reached the database

    # --- what flows call ---------------------------------------------------------------------

    def record(self, *records: r.Record) -> None:
        """Keep ``records`` to be written with the next flush. A record whose key is pending
        already is that record again (an exposure's first one is kept)."""
        pending = self._pending
        for record in records:
            key = record.key
            if key in pending:
                continue
            pending[key] = record
            if isinstance(record, r.Search):
                for body in record.bodies:
                    self._bodies[body.id] = body
        while len(pending) > MAX_PENDING:
            self._forget(pending.pop(next(iter(pending))))
        if self._metrics is not None:
            self._metrics.observe_appended(records)
        self._wake.set()

    def young(self, key: tuple[Any, ...]) -> r.Record | None:
        """A record not written yet, by its key (``("quote", id)``, ``("search", key)``)."""
        return self._pending.get(key)

    def young_body(self, body_id: str) -> r.OfferBody | None:
        """An offer body a pending search made."""
        return self._bodies.get(body_id)

    def behind(self) -> bool:
        """Whether more is waiting than ``BACKLOG`` while the database takes writes."""
        return len(self._pending) > BACKLOG and self._taking_writes

    async def catch_up(self) -> None:
        """Wait while the recorder is ``behind``: a request that would add to the backlog waits
        for flushes to bring it down. While the database is away nothing waits (what is pending
        is kept, up to ``MAX_PENDING``)."""
        while self.behind():
            self._wake.set()
            await self._flushed.wait()

    # --- the background task -----------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="recorder")

    async def stop(self) -> None:
        """Stop the task and write everything pending (graceful shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        except Exception as exc:  # the database is away: what is pending is lost, and said so
            log.error("records_lost_at_shutdown", pending=len(self._pending), error=brief(exc))
        if self._engine is not None:
            self._engine.dispose()
        self._thread.shutdown(wait=True)

    async def flush(self) -> int:
        """Write what is pending; return how many records were written. Refused records are
        set aside as dead letters (see the module's doc); while the database is away the batch
        stays pending and the outage is raised."""
        async with self._flushing:
            try:
                settled = await self._flush()
            except Exception:
                self._taking_writes = False
                raise
            else:
                self._taking_writes = True
                return len(settled.written)
            finally:
                self._flushed.set()
                self._flushed = asyncio.Event()

    async def _flush(self) -> Settled:
        batch = list(self._pending.values())
        settled = Settled()
        if not batch:
            return settled
        try:
            await self._settle(batch, settled)
        finally:
            # What was settled leaves, even when an outage cut the flush short.
            for record in (
                *settled.written,
                *(rec for rec, _ in settled.refused),
                *settled.dropped,
            ):
                if self._pending.get(record.key) is record:
                    del self._pending[record.key]
                    self._forget(record)
            if self._metrics is not None:
                self._metrics.observe_records(
                    written=[r.kind_of(rec) for rec in settled.written],
                    refused=[r.kind_of(rec) for rec, _ in settled.refused],
                    pending=len(self._pending),
                )
        return settled

    async def _settle(self, batch: list[r.Record], settled: Settled) -> None:
        """Write ``batch``; if it is refused, its halves, down to single records."""
        try:
            await self._write(store.statements(self._dialect, batch))
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
        row = store.dead_letter_row(record, text, source=SOURCE, at=utcnow())
        await self._write([(store.dead_letter_statement(self._dialect), [row])])
        # The error's kind and the record's key only: its parameters hold customers' data.
        log.warning(
            "record_dead_lettered",
            kind=row["kind"],
            record_id=row["record_id"],
            tenant_id=str(record.tenant_id),
            error=type(error).__name__,
        )
        settled.refused.append((record, text))

    async def _tenant_gone(self, record: r.Record) -> bool:
        async with self._session_factory() as session:
            return await session.get(Tenant, record.tenant_id) is None

    def _forget(self, record: r.Record) -> None:
        if isinstance(record, r.Search):
            for body in record.bodies:
                self._bodies.pop(body.id, None)

    async def _write(self, statements: store.Statements) -> None:
        """One transaction of ``statements``."""
        if self._engine is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._thread, self._write_here, statements)
            return
        async with self._session_factory() as session:
            if self._is_sqlite:
                await session.connection(execution_options={"sqlite_immediate": True})
            connection = await session.connection()
            await connection.run_sync(store.execute, statements)
            await session.commit()

    def _write_here(self, statements: store.Statements) -> None:
        """The transaction, on the writer's own thread and connection: one hand-off to the event
        loop for the whole flush, where each statement awaited on the loop had waited for a
        turn behind every request in flight (seconds per flush under load)."""
        assert self._engine is not None
        with self._engine.connect() as connection:
            if self._is_sqlite:
                connection.execution_options(sqlite_immediate=True)
            with connection.begin():
                store.execute(connection, statements)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._flush_seconds)  # gather the records of this interval
            self._wake.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: keep and retry
                log.warning("records_flush_failed", error=brief(exc), pending=len(self._pending))
                self._wake.set()
                await asyncio.sleep(1.0)


def brief(error: BaseException) -> str:
    """An error without the statement and parameters SQLAlchemy adds (customers' data)."""
    if isinstance(error, sa_exc.StatementError) and error.orig is not None:
        return f"{type(error.orig).__name__}: {str(error.orig).strip()}"[:2000]
    return f"{type(error).__name__}: {error}"[:2000]
