"""The server's forecast schedule: every ``forecast_interval_seconds`` (off when 0), forecast each
active airline tenant's flights yet to leave, as ``offerengine forecast`` does.

Each tenant's run is one transaction of its own. On PostgreSQL a transaction-scoped advisory lock
lets one worker run a round while the others skip it (their forecasts would only replace the same
rows with the same figures); on SQLite the write lock serialises them. A failed round is logged
and the next one tries again. The lifespan starts the schedule and, at shutdown, stops it
between rounds: a round under way ends and returns its connection (the loop and the lock are
:mod:`offerengine.background`'s).
"""

from __future__ import annotations

import sqlalchemy as sa

from offerengine import background
from offerengine.clock import utcnow
from offerengine.observability.logging import get_logger
from offerengine.revenue import forecasting
from offerengine.tenants.models import Tenant

log = get_logger("offerengine.revenue")
LOCK_KEY = 0x5245_5645  # "REVE": the advisory lock a forecast round holds on PostgreSQL


class ForecastSchedule(background.Schedule):
    """A background loop of forecast rounds."""

    task_name = "revenue-forecasts"
    log = log
    event = "forecast_round"
    counts = "cabins"

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
            async with self.exclusive(LOCK_KEY) as session:
                if session is None:
                    return cabins  # another worker runs this round
                done = await forecasting.run(session, tenant_id=tenant_id, now=utcnow())
                cabins += done.cabins
        return cabins
