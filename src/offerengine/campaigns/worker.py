"""The server's retraining schedule: every ``uplift_retrain_seconds`` (off when 0), retrain the
uplift models of each campaign running (or ended within its grants' validity) from its own
outcomes, as ``offerengine retrain-uplift`` does (:mod:`offerengine.campaigns.retraining`).

Each campaign's retraining is one transaction. On PostgreSQL a transaction-scoped advisory lock
lets one worker run a round while the others skip it; on SQLite the write lock serialises them.
A failed round is logged and the next one tries again; the lifespan stops the schedule between
rounds (the loop and the lock are :mod:`offerengine.background`'s).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from offerengine import background
from offerengine.campaigns import retraining
from offerengine.campaigns.models import Campaign
from offerengine.clock import utcnow
from offerengine.observability.logging import get_logger

log = get_logger("offerengine.campaigns")
LOCK_KEY = 0x5550_4C46  # "UPLF": the advisory lock a retraining round holds on PostgreSQL


class RetrainSchedule(background.Schedule):
    """A background loop of retraining rounds."""

    task_name = "uplift-retraining"
    log = log
    event = "uplift_retrain_round"
    counts = "versions"

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
            async with self.exclusive(LOCK_KEY) as session:
                if session is None:
                    return kept  # another worker runs this round
                campaign = await session.get(Campaign, campaign_id)
                if campaign is None:
                    continue
                done = await retraining.retrain(session, campaign, now)
                kept += sum(1 for p in done["promotions"] if "version" in p)
        return kept
