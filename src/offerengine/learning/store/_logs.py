"""The bandits' logs and their rewards: the logged proposals of an activity whose reward window
has closed, read in batches of whole decisions after a cursor, each with the reward its offer's
feedback events earned within the window (:func:`logged`, what training and offline evaluation
read); and retention (:func:`prune`), deleting old decisions and logs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.decisioning.models import Decision
from offerengine.events.models import Event
from offerengine.learning.models import DecisionLog
from offerengine.learning.policy import (
    REWARD_EVENT,
    SHOP,
    ContextualDef,
    Learner,
    Logged,
    Proposable,
)

# Decisions are written behind their answers, in batches: a round leaves the last moments alone.
WRITE_LAG = timedelta(seconds=2)
BATCH = 2000


async def rewards_of(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    logs: Sequence[DecisionLog],
    activity: Learner,
    spec: ContextualDef,
) -> dict[tuple[uuid.UUID, str], float]:
    """The reward of each logged proposal by ``spec``: its offer's feedback events within the
    window of its decision (about this activity, or about no activity in particular). For
    shopping, the decision is the search and the event an order, whose offer type is the arm."""
    wanted = REWARD_EVENT[spec.reward]
    made = {log.decision_id: log.made_at for log in logs}
    found: dict[tuple[uuid.UUID, str], float] = {}
    ids = list(made)
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            sa.select(
                Event.decision_id,
                Event.offer_id,
                Event.activity_id,
                Event.value,
                Event.occurred_at,
                Event.properties,
            ).where(
                Event.tenant_id == tenant_id,
                Event.decision_id.in_(ids[start : start + 500]),
                Event.type == wanted,
            )
        )
        for decision_id, offer_id, event_activity, value, at, properties in rows:
            if activity.id == SHOP:
                offer_id = (properties or {}).get("offer_type")
            if decision_id is None or offer_id is None:
                continue
            if event_activity is not None and event_activity != activity.id:
                continue
            if at > made[decision_id] + spec.window:
                continue
            key = (decision_id, offer_id)
            if spec.reward in ("revenue", "margin"):
                worth = float(value) if value is not None else _worth(activity, offer_id)
                found[key] = found.get(key, 0.0) + worth
            else:
                found[key] = 1.0
    if spec.reward == "margin":
        for log in logs:
            key = (log.decision_id, log.offer_id)
            found[key] = found.get(key, 0.0) - _cost(activity, log.offer_id)
    return found


def _offer(activity: Learner, offer_id: str) -> Proposable | None:
    return next((o for o in activity.candidates if o.key == offer_id), None)


def _worth(activity: Learner, offer_id: str) -> float:
    offer = _offer(activity, offer_id)
    return offer.worth if offer is not None else 1.0


def _cost(activity: Learner, offer_id: str) -> float:
    offer = _offer(activity, offer_id)
    return offer.cost if offer is not None else 0.0


async def closed_logs(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    activity_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    until: datetime,
    limit: int,
) -> list[DecisionLog]:
    """The activity's logs after the cursor (made_at, decision_id), up to ``until``, whole
    decisions only, at most about ``limit`` rows."""
    stmt = sa.select(DecisionLog).where(
        DecisionLog.tenant_id == tenant_id,
        DecisionLog.activity_id == activity_id,
        DecisionLog.made_at <= until,
    )
    if after is not None:
        at, last = after
        stmt = stmt.where(
            sa.or_(
                DecisionLog.made_at > at,
                sa.and_(DecisionLog.made_at == at, DecisionLog.decision_id > last),
            )
        )
    stmt = stmt.order_by(DecisionLog.made_at, DecisionLog.decision_id, DecisionLog.rank)
    found = list((await session.scalars(stmt.limit(limit))).all())
    if len(found) == limit:  # the last decision may go on in the next batch: leave it whole
        whole = [log for log in found if log.decision_id != found[-1].decision_id]
        found = whole or found
    return found


async def logged(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    activity: Learner,
    spec: ContextualDef,
    *,
    now: datetime,
    since: datetime | None = None,
    limit: int = 100_000,
) -> list[Logged]:
    """The activity's logged proposals whose reward window has closed, oldest first, each with
    its reward by ``spec``."""
    found: list[Logged] = []
    after = None if since is None else (since, uuid.UUID(int=0))
    while len(found) < limit:
        logs = await closed_logs(
            session,
            tenant_id,
            activity.id,
            after=after,
            until=now - spec.window - WRITE_LAG,
            limit=BATCH,
        )
        if not logs:
            break
        rewards = await rewards_of(session, tenant_id, logs, activity, spec)
        found.extend(
            _logged(log, rewards.get((log.decision_id, log.offer_id), 0.0)) for log in logs
        )
        after = (logs[-1].made_at, logs[-1].decision_id)
    return found[:limit]


def _logged(log: DecisionLog, reward: float) -> Logged:
    return Logged(
        decision_id=log.decision_id,
        made_at=log.made_at,
        offer_id=log.offer_id,
        candidates=tuple(log.candidates),
        propensity=float(log.propensity),
        contexts=log.contexts,
        reward=reward,
        model=log.model,
        shadow=log.shadow,
        rank=log.rank,
    )


# ---- retention ----


async def prune(session: AsyncSession, *, now: datetime, keep: timedelta, limit: int = 5000) -> int:
    """Delete decisions and bandit logs made more than ``keep`` ago, ``limit`` of each at most
    (every sweep takes the next share); what was learnt from them stays in the models."""
    cutoff = now - keep
    deleted = 0
    for model, key in ((Decision, Decision.id), (DecisionLog, DecisionLog.decision_id)):
        made = model.made_at
        old = sa.select(key).where(made < cutoff).limit(limit).scalar_subquery()
        result = await session.execute(
            sa.delete(model).where(key.in_(old)).execution_options(synchronize_session=False)
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
    return deleted
