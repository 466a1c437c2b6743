"""The server's retraining schedule: every ``uplift_retrain_seconds`` (off when 0), retrain the
uplift models of each campaign running (or ended within its grants' validity) from its own
outcomes, as ``offerengine retrain-uplift`` does (:mod:`offerengine.campaigns.retraining`).

Each campaign's retraining is one transaction. On PostgreSQL a transaction-scoped advisory lock
lets one worker run a round while the others skip it; on SQLite the write lock serialises them.
A failed round is logged and the next one tries again; the lifespan stops the schedule between
rounds (:mod:`offerengine.background`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine import background
from offerengine.campaigns import retraining
from offerengine.campaigns.models import Campaign
from offerengine.clock import utcnow
from offerengine.observability.logging import get_logger

log = get_logger("offerengine.campaigns")
LOCK_KEY = 0x5550_4C46  # "UPLF": the advisory lock a retraining round holds on PostgreSQL


class RetrainSchedule:
    """A background loop of retraining rounds."""

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
            self._task = asyncio.create_task(self._run(), name="uplift-retraining")

    async def stop(self) -> None:
        if self._task is not None:
            await background.finish(self._task, self._stopping)
            self._task = None

    async def run_once(self) -> int:
        """One round: retrain each active campaign that has started and ended less than its
        grants' validity ago; how many new model versions were kept."""
        now = utcnow()
        async with self._session_factory() as session:
            campaigns = (
                await session.execute(
                    sa.select(Campaign.id, Campaign.ends_at, Campaign.grant_days).where(
                        Campaign.is_active.is_(True), Campaign.starts_at <= now
                    )
                )
            ).all()
        kept = 0
        for campaign_id, ends_at, days in campaigns:
            if ends_at + timedelta(days=days) < now:
                continue  # its outcomes are all in: retrained by the rounds before
            async with self._session_factory() as session:
                if self._is_sqlite:
                    await session.connection(execution_options={"sqlite_immediate": True})
                elif not await session.scalar(
                    sa.select(sa.func.pg_try_advisory_xact_lock(LOCK_KEY))
                ):
                    return kept  # another worker runs this round
                campaign = await session.get(Campaign, campaign_id)
                if campaign is None:
                    continue
                done = await retraining.retrain(session, campaign, now)
                await session.commit()
                kept += sum(1 for p in done["promotions"] if "version" in p)
        return kept

    async def _run(self) -> None:
        while not await background.pause(self._stopping, self._seconds):
            try:
                kept = await self.run_once()
                log.info("uplift_retrain_round", versions=kept)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be briefly away; try again next round
                log.warning("uplift_retrain_round_failed", error=str(exc))
