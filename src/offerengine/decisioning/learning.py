"""What model ranking learns: each offer's acceptance rate per placement, from the feedback clients
report (`POST /v1/events`).

Impressions are the trials; accepts (or clicks, an activity's choice) the successes. An offer's
rate in a placement is Beta-Binomial with partial pooling: the activity's prior Beta(alpha, beta) learns
from the offer's feedback in every placement, and that, with the prior's weight (alpha + beta), is the
prior of the placement's own counts. A new placement thus starts from what the offer did elsewhere,
and a new offer from the prior.

The counts are kept in ``decision_stats``, one row per offer and placement, added to in the events'
transaction; each worker reads a tenant's rows at most every ``refresh_seconds``.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.db import upsert
from offerengine.decisioning import core
from offerengine.decisioning.models import DecisionStat
from offerengine.events.schemas import EventIn

# Feedback kinds counted, in the order of the counts tuple.
KINDS = ("impression", "click", "accept")
Counts = tuple[int, int, int]  # impressions, clicks, accepts
ANY_PLACEMENT = ""


@dataclass(frozen=True)
class Estimates:
    """A tenant's feedback counts, per (offer, placement) and per offer."""

    counts: Mapping[tuple[uuid.UUID, str], Counts] = field(default_factory=dict)
    totals: Mapping[uuid.UUID, Counts] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Mapping[tuple[uuid.UUID, str], Counts]) -> Estimates:
        totals: dict[uuid.UUID, list[int]] = {}
        for (offer_id, _), counts in rows.items():
            total = totals.setdefault(offer_id, [0, 0, 0])
            for i, n in enumerate(counts):
                total[i] += n
        return cls(dict(rows), {k: (v[0], v[1], v[2]) for k, v in totals.items()})

    def posterior(
        self, offer_id: uuid.UUID, placement: str, model: core.Model
    ) -> tuple[float, float]:
        """Beta(a, b) of the offer's success rate in the placement (see the module's doc)."""
        hit = 2 if model.success == "accept" else 1
        weight = model.alpha + model.beta
        trials, successes = _trials(self.totals.get(offer_id), hit)
        pooled = (model.alpha + successes) / (weight + trials)
        trials, successes = _trials(self.counts.get((offer_id, placement)), hit)
        return weight * pooled + successes, weight * (1 - pooled) + trials - successes


def _trials(counts: Counts | None, hit: int) -> tuple[int, int]:
    """Impressions and successes; a success reported without its impression is a trial too."""
    if counts is None:
        return 0, 0
    return max(counts[0], counts[hit]), counts[hit]


async def read_counts(
    session: AsyncSession, tenant_id: uuid.UUID
) -> dict[tuple[uuid.UUID, str], Counts]:
    rows = await session.execute(
        sa.select(
            DecisionStat.offer_id,
            DecisionStat.placement_id,
            DecisionStat.impressions,
            DecisionStat.clicks,
            DecisionStat.accepts,
        ).where(DecisionStat.tenant_id == tenant_id)
    )
    return {(r[0], r[1]): (int(r[2]), int(r[3]), int(r[4])) for r in rows}


class StatsCache:
    """Each tenant's :class:`Estimates`, read again when older than ``refresh_seconds``."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], refresh_seconds: float
    ) -> None:
        self._session_factory = session_factory
        self._seconds = refresh_seconds
        self._cached: dict[uuid.UUID, tuple[float, Estimates]] = {}

    async def get(self, tenant_id: uuid.UUID) -> Estimates:
        now = time.monotonic()
        found = self._cached.get(tenant_id)
        if found is not None and now - found[0] < self._seconds:
            return found[1]
        async with self._session_factory() as session:
            estimates = Estimates.of(await read_counts(session, tenant_id))
        self._cached[tenant_id] = (now, estimates)
        return estimates

    def forget(self, tenant_id: uuid.UUID) -> None:
        self._cached.pop(tenant_id, None)


def placement_of(
    event: EventIn,
    offer_id: uuid.UUID,
    index: core.DecisioningIndex,
    proposed: Mapping[uuid.UUID, Mapping[uuid.UUID | None, set[str]]],
) -> str:
    """Where the event's offer was shown: its activity's placement — the event's activity, or the
    one activity of its decision that proposed the offer — or '' when that is not known."""
    activity_id = event.activity_id
    if activity_id is None and event.decision_id is not None:
        activities = proposed.get(event.decision_id, {}).get(offer_id, set())
        if len(activities) == 1:
            activity_id = uuid.UUID(next(iter(activities)))
    activity = index.activities.get(activity_id) if activity_id is not None else None
    return activity.placement_key if activity is not None else ANY_PLACEMENT


async def count(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    index: core.DecisioningIndex,
    events: Sequence[EventIn],
    proposed: Mapping[uuid.UUID, Mapping[uuid.UUID | None, set[str]]],
) -> None:
    """Add the newly recorded impressions, clicks and accepts of offers to their counts (one
    statement per offer and placement, in the events' transaction)."""
    tally: Counter[tuple[uuid.UUID, str, str]] = Counter()
    for event in events:
        if event.type not in KINDS or event.offer_id is None:
            continue
        try:
            offer_id = uuid.UUID(event.offer_id)
        except ValueError:
            continue
        tally[(offer_id, placement_of(event, offer_id, index, proposed), event.type)] += 1
    grouped: dict[tuple[uuid.UUID, str], dict[str, int]] = {}
    for (offer_id, placement, kind), n in tally.items():
        grouped.setdefault((offer_id, placement), dict.fromkeys(KINDS, 0))[kind] = n
    for (offer_id, placement), added in sorted(grouped.items(), key=lambda kv: str(kv[0])):
        values = {f"{kind}s": n for kind, n in added.items()}
        stmt = (
            upsert.insert(session, DecisionStat)
            .values(tenant_id=tenant_id, offer_id=offer_id, placement_id=placement, **values)
            .on_conflict_do_update(
                index_elements=["tenant_id", "offer_id", "placement_id"],
                set_={column: getattr(DecisionStat, column) + n for column, n in values.items()},
            )
        )
        await session.execute(stmt)
