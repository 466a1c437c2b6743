"""Each worker's compiled snapshots, swapped atomically when a tenant's configuration changes.

Reading a snapshot is a dictionary lookup. A worker learns of a newer version in two ways:

- its own write (``observe(..., local=True)``): the next request in this worker waits for the rebuild,
  so a client always reads its own writes;
- another worker's write, through the change feed: the rebuild runs in the background while the
  current snapshot keeps serving, so no request pays for it. The staleness bound is the feed's
  delivery delay plus the rebuild time.

A newer version of a tenant already held is patched from the one held, for the objects that
changed (:mod:`offerengine.snapshots.incremental`); a tenant not held yet, or one whose changes
cannot be patched, is built whole. Both run where the store's :class:`Compiler` puts them (a thread
of their own: :mod:`offerengine.snapshots.compiler`), so requests of other tenants, and of this
one while its old snapshot serves, go on meanwhile.

Rebuilds are single-flight per tenant: concurrent requests share one build. A build is a task
of its own that its waiters only await: a request cut by its time budget (``offerengine.budget``)
stops waiting, but the build goes on for the next request. Were it cancelled with its first
waiter, a tenant whose build takes longer than a budget would never be served again.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from offerengine.errors import NotFound
from offerengine.observability.logging import get_logger
from offerengine.snapshots.core import Snapshot
from offerengine.snapshots.heap import Heap

Builder = Callable[[uuid.UUID], Awaitable[Snapshot | None]]
log = get_logger("offerengine.snapshots")


class Compiler(Protocol):
    """Builds snapshots whole, and patches one to a tenant's latest version when it can."""

    async def build(self, tenant_id: uuid.UUID) -> Snapshot | None: ...
    async def patch(self, current: Snapshot) -> Snapshot | None: ...
    def forget(self, tenant_id: uuid.UUID) -> None: ...
    async def close(self) -> None: ...


class _Whole:
    """A plain builder as a compiler that never patches."""

    def __init__(self, builder: Builder) -> None:
        self._builder = builder

    async def build(self, tenant_id: uuid.UUID) -> Snapshot | None:
        return await self._builder(tenant_id)

    async def patch(self, current: Snapshot) -> Snapshot | None:
        return None

    def forget(self, tenant_id: uuid.UUID) -> None:
        pass

    async def close(self) -> None:
        pass


class SnapshotStore:
    def __init__(self, builder: Builder | Compiler) -> None:
        self._compiler: Compiler = _Whole(builder) if callable(builder) else builder
        self._snapshots: dict[uuid.UUID, Snapshot] = {}
        self._required: dict[uuid.UUID, int] = {}
        self._latest: dict[uuid.UUID, int] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._building: dict[uuid.UUID, asyncio.Task[Snapshot]] = {}
        self._heap = Heap()

    def peek(self, tenant_id: uuid.UUID) -> Snapshot | None:
        """The snapshot in hand, however old; never builds."""
        return self._snapshots.get(tenant_id)

    def held(self) -> list[Snapshot]:
        """The snapshots this worker holds: the tenants it serves."""
        return list(self._snapshots.values())

    async def get(self, tenant_id: uuid.UUID) -> Snapshot:
        """The tenant's snapshot, at least as new as anything this worker wrote."""
        snapshot = self._snapshots.get(tenant_id)
        if snapshot is not None and snapshot.version >= self._required.get(tenant_id, 0):
            return snapshot
        return await self._rebuild(tenant_id)

    def observe(self, tenant_id: uuid.UUID, version: int, *, local: bool) -> None:
        """Learn that ``version`` of a tenant's configuration exists."""
        if version > self._latest.get(tenant_id, -1):
            self._latest[tenant_id] = version
        if local:
            if version > self._required.get(tenant_id, -1):
                self._required[tenant_id] = version
            return
        snapshot = self._snapshots.get(tenant_id)
        if snapshot is not None and snapshot.version < version:
            task = asyncio.get_running_loop().create_task(self._refresh(tenant_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def forget(self, tenant_id: uuid.UUID) -> None:
        """Drop a deleted tenant."""
        self._snapshots.pop(tenant_id, None)
        self._required.pop(tenant_id, None)
        self._latest.pop(tenant_id, None)
        self._locks.pop(tenant_id, None)
        self._compiler.forget(tenant_id)

    async def close(self) -> None:
        tasks = [*self._background, *self._building.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._compiler.close()

    async def _refresh(self, tenant_id: uuid.UUID) -> None:
        try:
            await self._rebuild(tenant_id)
        except NotFound:
            self.forget(tenant_id)
        except Exception as exc:
            # The feed will ask again at its next poll; until then the old snapshot serves.
            log.warning("snapshot_rebuild_failed", tenant_id=str(tenant_id), error=repr(exc))

    async def _rebuild(self, tenant_id: uuid.UUID) -> Snapshot:
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            snapshot = self._snapshots.get(tenant_id)
            wanted = max(self._required.get(tenant_id, 0), self._latest.get(tenant_id, 0))
            if snapshot is not None and snapshot.version >= wanted:
                return snapshot
            build = self._building.get(tenant_id)
            if build is None or build.done():
                build = asyncio.get_running_loop().create_task(self._build(tenant_id))
                self._building[tenant_id] = build
                build.add_done_callback(functools.partial(self._built, tenant_id))
            return await asyncio.shield(build)

    def _built(self, tenant_id: uuid.UUID, build: asyncio.Task[Snapshot]) -> None:
        """A build ended: forget it, and take its error if no waiter is left to take it."""
        if self._building.get(tenant_id) is build:
            del self._building[tenant_id]
        if not build.cancelled() and build.exception() is not None:
            log.debug("snapshot_build_failed", error=repr(build.exception()))

    async def _build(self, tenant_id: uuid.UUID) -> Snapshot:
        held = self._snapshots.get(tenant_id)
        built = patched = None
        if held is not None:
            try:
                built = patched = await self._compiler.patch(held)
            except Exception as exc:
                # A whole build still gives the right snapshot; say why the patch did not.
                log.warning("snapshot_patch_failed", tenant_id=str(tenant_id), error=repr(exc))
        if built is None:
            built = await self._compiler.build(tenant_id)
        if built is None:
            self.forget(tenant_id)
            raise NotFound(f"No tenant {tenant_id}")
        current = self._snapshots.get(tenant_id)
        if current is None or built.version >= current.version:
            self._snapshots[tenant_id] = built  # the atomic swap
            if built is patched:
                self._heap.keep()
            else:
                self._heap.settle()
        if built.version > self._latest.get(tenant_id, -1):
            self._latest[tenant_id] = built.version
        log.debug(
            "snapshot_built",
            tenant_id=str(tenant_id),
            version=built.version,
            seconds=round(built.build_seconds, 4),
        )
        return self._snapshots[tenant_id]
