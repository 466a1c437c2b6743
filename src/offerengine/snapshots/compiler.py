"""Where a worker reads and compiles its snapshots: off the event loop that serves requests.

A build or a patch is a database read and then pure Python compiling. Run on the serving loop, a
whole build of a large tenant stops every request of the worker until it ends. So the
:class:`Compiler` runs them on an event loop of its own, in a thread of its own, with a database
engine of its own (an async engine's connections belong to the loop that opened them): the serving
loop only awaits the result, and the old snapshot serves until the new one is swapped in. Python
threads share one interpreter lock, so compiling still takes turns with requests (every
``sys.getswitchinterval()``), but no request waits for a whole build.

What it compiles:

- a tenant it does not hold yet: a whole build (:func:`offerengine.snapshots.build.build`);
- a newer version of one it holds: a patch of the changes since (:mod:`.incremental`), or a
  whole build when the change log cannot say what changed, and at least every
  ``full_every`` seconds per tenant, so that a patched snapshot never drifts for long from what a
  whole build gives (tests compare the two over random change sequences).

An in-memory SQLite database cannot be opened twice: there it compiles on the serving loop.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from offerengine.db.engine import create_engine
from offerengine.snapshots import build as building
from offerengine.snapshots import incremental
from offerengine.snapshots.core import Snapshot

T = TypeVar("T")
FULL_EVERY = 300.0  # seconds between whole builds of a tenant that is only patched


class Compiler:
    """Builds and patches a worker's snapshots, in a thread of its own (``thread``) or inline."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        thread: bool = True,
        full_every: float = FULL_EVERY,
    ) -> None:
        engine: AsyncEngine = session_factory.kw["bind"]
        self._url = engine.url
        self._is_postgres = engine.dialect.name == "postgresql"
        self._inline = session_factory
        self._threaded = thread and engine.url.database not in (None, "", ":memory:")
        self._full_every = full_every
        self._whole_at: dict[uuid.UUID, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._factory: async_sessionmaker[AsyncSession] | None = None
        self._start = threading.Lock()

    @property
    def threaded(self) -> bool:
        return self._threaded

    async def build(self, tenant_id: uuid.UUID) -> Snapshot | None:
        """The tenant's snapshot built whole; None if the tenant is gone."""
        built = await self._run(self._build(tenant_id))
        if built is not None:
            self._whole_at[tenant_id] = time.monotonic()
        return built

    async def patch(self, current: Snapshot) -> Snapshot | None:
        """``current`` brought to the tenant's latest version by a patch; None when it must be
        built whole instead."""
        whole_at = self._whole_at.get(current.tenant.id, float("-inf"))
        if time.monotonic() - whole_at >= self._full_every:
            return None
        return await self._run(self._patch(current))

    def forget(self, tenant_id: uuid.UUID) -> None:
        self._whole_at.pop(tenant_id, None)

    async def close(self) -> None:
        """Stop the thread, closing its engine's connections first."""
        loop, thread, factory = self._loop, self._thread, self._factory
        if loop is None or thread is None:
            return
        if factory is not None:
            bind: AsyncEngine = factory.kw["bind"]
            done = asyncio.run_coroutine_threadsafe(bind.dispose(), loop)
            await asyncio.wrap_future(done)
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, 10)
        loop.close()
        self._loop = self._thread = self._factory = None

    async def _run(self, work: Coroutine[Any, Any, T]) -> T:
        if not self._threaded:
            return await work
        loop = self._ensure_thread()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))

    def _ensure_thread(self) -> asyncio.AbstractEventLoop:
        with self._start:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._factory = async_sessionmaker(
                    create_engine(self._url, pool_size=2), expire_on_commit=False
                )
                self._thread = threading.Thread(
                    target=loop.run_forever, name="offerengine-snapshots", daemon=True
                )
                self._thread.start()
                self._loop = loop
            return self._loop

    def _sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._factory if self._threaded and self._factory is not None else self._inline

    async def _read(self, session: AsyncSession) -> None:
        if self._is_postgres:
            # One consistent read: the version, the log and the data belong together.
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})

    async def _build(self, tenant_id: uuid.UUID) -> Snapshot | None:
        # A whole build allocates a large tenant's objects by the million, and the cyclic
        # collector would scan the growing heap again and again, holding the interpreter lock
        # (seconds with 100,000 offers) while requests wait for it; the store's settle after the
        # swap collects once.
        collecting = gc.isenabled()
        gc.disable()
        try:
            async with self._sessions()() as session:
                await self._read(session)
                return await building.build(session, tenant_id)
        finally:
            if collecting:
                gc.enable()

    async def _patch(self, current: Snapshot) -> Snapshot | None:
        async with self._sessions()() as session:
            await self._read(session)
            return await incremental.patch(session, current)
