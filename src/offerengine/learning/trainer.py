"""Training rounds: by each worker in the background for the tenants it serves, by
`offerengine train`, and by `POST /v1/admin/tenants/{tenant}/models/train`."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine import background
from offerengine.db.base import utcnow
from offerengine.errors import Conflict
from offerengine.learning import store
from offerengine.observability.logging import get_logger
from offerengine.snapshots.core import Snapshot
from offerengine.snapshots.store import SnapshotStore

log = get_logger("offerengine.learning")


async def train_snapshot(
    session_factory: async_sessionmaker[AsyncSession],
    snapshot: Snapshot,
    *,
    is_sqlite: bool,
    limit: int = store.BATCH,
) -> list[store.Round]:
    """One round for the tenant's bandits, in one transaction; [] when another round moved a
    model meanwhile (nothing of this one is kept)."""
    if not any(True for _ in store.lines(snapshot)):
        return []
    async with session_factory() as session:
        if is_sqlite:
            await session.connection(execution_options={"sqlite_immediate": True})
        try:
            rounds = await store.train(
                session, snapshot.tenant.id, snapshot, now=utcnow(), limit=limit
            )
        except (Conflict, IntegrityError):  # another round moved the model, or started it
            await session.rollback()
            return []
        await session.commit()
    return rounds


class Trainer:
    """Every ``seconds``, a round for each tenant this worker holds a snapshot of; stopped
    between rounds (:mod:`offerengine.background`)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        snapshots: SnapshotStore,
        *,
        seconds: float,
        is_sqlite: bool,
    ) -> None:
        self._session_factory = session_factory
        self._snapshots = snapshots
        self._seconds = seconds
        self._is_sqlite = is_sqlite
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self._seconds > 0:
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="bandit-trainer")

    async def stop(self) -> None:
        """Stop once the tenant's round under way has ended."""
        if self._task is not None:
            await background.finish(self._task, self._stopping)
            self._task = None

    async def _run(self) -> None:
        while not await background.pause(self._stopping, self._seconds):
            for snapshot in self._snapshots.held():
                if self._stopping.is_set():
                    return
                try:
                    await train_snapshot(self._session_factory, snapshot, is_sqlite=self._is_sqlite)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database may be briefly away; next round
                    log.warning(
                        "bandit_training_failed", tenant=snapshot.tenant.code, error=str(exc)
                    )
