"""The server's forecast schedule: every ``forecast_interval_seconds`` (off when 0), forecast each
active airline tenant's flights yet to leave, as ``offerengine forecast`` does.

Each tenant's run is one transaction of its own. On PostgreSQL a transaction-scoped advisory lock
lets one worker run a round while the others skip it (their forecasts would only replace the same
rows with the same figures); on SQLite the write lock serialises them. A failed round is logged
and the next one tries again. The lifespan starts the schedule and, at shutdown, stops it
between rounds (:mod:`offerengine.background`): a round under way ends and returns its connection.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine import background
from offerengine.clock import utcnow
from offerengine.observability.logging import get_logger
from offerengine.revenue import forecasting
from offerengine.tenants.models import Tenant

log = get_logger("offerengine.revenue")
LOCK_KEY = 0x5245_5645  # "REVE": the advisory lock a forecast round holds on PostgreSQL


class ForecastSchedule:
    """A background loop of forecast rounds."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, seconds: float, is_sqlite: bool
    ) -> None:
        self._session_factory = session_factory
        self._seconds = seconds
        self._is_sqlite = is_sqlite
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self._seconds > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="revenue-forecasts")

    async def stop(self) -> None:
        if self._task is not None:
            await background.finish(self._task, self._stopping)
            self._task = None

    async def run_once(self) -> int:
        """One round: forecast every active airline tenant; how many cabins were forecast."""
        async with self._session_factory() as session:
            tenants = (
                await session.scalars(
                    sa.select(Tenant.id).where(Tenant.kind == "airline", Tenant.status == "active")
                )
            ).all()
        cabins = 0
        for tenant_id in tenants:
            async with self._session_factory() as session:
                if self._is_sqlite:
                    await session.connection(execution_options={"sqlite_immediate": True})
                elif not await session.scalar(
                    sa.select(sa.func.pg_try_advisory_xact_lock(LOCK_KEY))
                ):
                    return cabins  # another worker runs this round
                done = await forecasting.run(session, tenant_id=tenant_id, now=utcnow())
                await session.commit()
                cabins += done.cabins
        return cabins

    async def _run(self) -> None:
        while not await background.pause(self._stopping, self._seconds):
            try:
                cabins = await self.run_once()
                log.info("forecast_round", cabins=cabins)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be briefly away; try again next round
                log.warning("forecast_round_failed", error=str(exc))
