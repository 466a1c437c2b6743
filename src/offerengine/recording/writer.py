"""The embedded recorder: run-time records written behind the response, in batches.

A flow hands its records to :meth:`Recorder.record` and answers; one background task writes what
is pending every ``flush_seconds`` (50 ms by default) through a :class:`~store.RecordStore`, in one
transaction, on a thread with a connection of its own (``db.engine.create_writer_engine``). Until
then the worker that made a record serves it from memory (:meth:`Recorder.young`); another worker
asked for one it cannot find yet waits for it (record ids begin with their creation time, so it
knows the record is recent). A record the database refuses goes to the dead letters and never
holds back the others (see ``RecordStore``); while the database is away, what is pending stays
pending.

What a ``kill -9`` can lose is what is pending: at most one flush interval of records (and, while
the database is away, everything since it went). ``stop`` (graceful shutdown) writes it all. With
Redis, records go onto a stream instead (:mod:`offerengine.recording.stream`), acknowledged before
the answer is sent. What must be exact — cap counters, coupon usage, orders — is written in its
own transaction, never here.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine import budget
from offerengine.observability.logging import get_logger
from offerengine.observability.metrics import Metrics
from offerengine.recording import records as r
from offerengine.recording.store import RecordStore, Settled, brief

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
        """``engine``, when given, is a sync engine of the same database that the writes use
        from a thread of their own; without it, they go through ``session_factory`` on the
        event loop. ``metrics`` counts records kept, written and set aside."""
        self.store = RecordStore(
            session_factory, engine=engine, is_sqlite=is_sqlite, source="writer"
        )
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

    async def record(self, *records: r.Record) -> None:
        """Keep ``records`` to be written with the next flush. A record whose key is pending
        already is that record again (an exposure's first one is kept)."""
        budget.commit()  # past the request's time budget: refused, nothing kept
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

    async def young(self, key: tuple[Any, ...]) -> r.Record | None:
        """A record not written yet, by its key (``("quote", id)``, ``("search", key)``)."""
        return self._pending.get(key)

    async def young_body(self, body_id: str) -> r.OfferBody | None:
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
        self.store.close()

    async def flush(self) -> int:
        """Write what is pending; return how many records were written. Refused records are
        set aside as dead letters; while the database is away the batch stays pending and the
        outage is raised."""
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
        if not batch:
            return Settled()
        settled = await self.store.write(batch)
        for record in (*settled.written, *(rec for rec, _ in settled.refused), *settled.dropped):
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

    def _forget(self, record: r.Record) -> None:
        if isinstance(record, r.Search):
            for body in record.bodies:
                self._bodies.pop(body.id, None)

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
