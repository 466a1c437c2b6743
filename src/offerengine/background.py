"""Stopping a worker's background loops between their rounds, never inside one.

A loop that uses the database every few seconds (bandit training, the order sweeper, revenue
forecasts) is told to stop, and the round under way finishes: its transaction commits or rolls
back and its connection goes back to the pool, on the event loop that opened it, before the
engine is disposed. Cancelled inside a database call instead, the round leaves SQLAlchemy to
invalidate that connection and close it from the cancelled task; should that close be cut short
too, the fallback (aiosqlite's ``stop()``) hands the connection's thread a close whose completion
it posts to the event loop later, and a worker (or a test's app) that closed its loop meanwhile
gets "RuntimeError: Event loop is closed" from that thread. A round that does not end within the
grace period (a database that stopped answering) is cancelled after all, and awaited.

A :class:`Schedule` is such a loop whose rounds work unit by unit (a tenant, a campaign), each
unit a transaction of its own under the round's lock (:func:`exclusive`): on PostgreSQL a
transaction-scoped advisory lock, which one worker takes while the others skip the round (they
would only write the same again); on SQLite the write lock, taken as the transaction begins
(``BEGIN IMMEDIATE``), which serialises the workers instead.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

GRACE_SECONDS = 30.0  # how long a stopping loop's round may take to end before it is cancelled


async def pause(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``, or less if told to stop; whether the loop was told to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    return stopping.is_set()


async def finish(
    task: asyncio.Task[None], stopping: asyncio.Event, grace_seconds: float = GRACE_SECONDS
) -> None:
    """Tell the loop ``task`` runs to stop and wait for the round under way to end; past
    ``grace_seconds``, cancel it and wait for that."""
    stopping.set()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=grace_seconds)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    except asyncio.CancelledError:  # the stopper itself is cancelled: take the loop with it
        task.cancel()
        raise


@contextlib.asynccontextmanager
async def exclusive(
    session_factory: async_sessionmaker[AsyncSession], key: int, *, is_sqlite: bool
) -> AsyncIterator[AsyncSession | None]:
    """A transaction of its own holding the lock ``key`` names (on SQLite, the write lock); None
    when another worker holds it (PostgreSQL only: SQLite waits for the lock instead). The
    transaction commits when the block ends, and rolls back if it raises."""
    async with session_factory() as session:
        if is_sqlite:
            await session.connection(execution_options={"sqlite_immediate": True})
        elif not await session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(key))):
            yield None
            return
        yield session
        await session.commit()


class Schedule(abc.ABC):
    """A background loop of rounds: every ``seconds`` (off when 0), :meth:`run_once`, logged as
    :attr:`event` with its count; a failed round is logged as ``<event>_failed`` and the next
    one tries again. :meth:`stop` stops it between rounds."""

    task_name: ClassVar[str]  # the loop's asyncio task
    log: ClassVar[Any]  # the subclass's module logger
    event: ClassVar[str]  # what a round is logged as
    counts: ClassVar[str]  # the log field holding the count run_once returns

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, seconds: float, is_sqlite: bool
    ) -> None:
        self._session_factory = session_factory
        self._seconds = seconds
        self._is_sqlite = is_sqlite
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        """Start the loop, unless it is off or started already."""
        if self._seconds > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """Stop the loop once the round under way has ended."""
        if self._task is not None:
            await finish(self._task, self._stopping)
            self._task = None

    @abc.abstractmethod
    async def run_once(self) -> int:
        """One round; how much it did."""

    def exclusive(self, key: int) -> contextlib.AbstractAsyncContextManager[AsyncSession | None]:
        """A unit's transaction, under the lock ``key`` names (:func:`exclusive`)."""
        return exclusive(self._session_factory, key, is_sqlite=self._is_sqlite)

    async def _run(self) -> None:
        while not await pause(self._stopping, self._seconds):
            try:
                count = await self.run_once()
                self.log.info(self.event, **{self.counts: count})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be briefly away; try again next round
                self.log.warning(f"{self.event}_failed", error=str(exc))
