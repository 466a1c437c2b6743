"""Each worker's background sweep: orders whose hold expired give their units back; loyalty points
past their expiry expire, and campaigns' grants past theirs (their budget reservations released);
expired offers, and decisions older than their retention, are deleted a share at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine import background
from offerengine.campaigns import grants as campaign_grants
from offerengine.db.base import utcnow
from offerengine.learning import store as learning
from offerengine.loyalty import points as loyalty
from offerengine.observability.logging import get_logger
from offerengine.orders import service

log = get_logger("offerengine.orders")


class OrderSweeper:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        seconds: float,
        is_sqlite: bool,
        on_release: Callable[[], None],
        decision_retention: timedelta = timedelta(days=90),
    ) -> None:
        self._decision_retention = decision_retention
        self._session_factory = session_factory
        self._seconds = seconds
        self._is_sqlite = is_sqlite
        self._on_release = on_release
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="order-sweeper")

    async def stop(self) -> None:
        """Stop once the sweep under way has ended (:mod:`offerengine.background`)."""
        if self._task is not None:
            await background.finish(self._task, self._stopping)
            self._task = None

    async def sweep_once(self) -> int:
        async with self._session_factory() as session:
            if self._is_sqlite:
                await session.connection(execution_options={"sqlite_immediate": True})
            now = utcnow()
            expired = await service.sweep(session, now=now)
            await loyalty.expire(session, now=now)
            await campaign_grants.sweep(session, None, now)  # their reservations released
            await service.prune_offers(session, now=now)
            await learning.prune(session, now=now, keep=self._decision_retention)
            await session.commit()
        if expired:
            self._on_release()
        return expired

    async def _run(self) -> None:
        while not await background.pause(self._stopping, self._seconds):
            try:
                await self.sweep_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be briefly away; try again next round
                log.warning("order_sweep_failed", error=str(exc))
