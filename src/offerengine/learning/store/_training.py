"""Training rounds: for every bandit of a tenant's snapshot (:func:`lines`), the active version
(a new one started when the settings changed, or the one they name brought back), then the
logs closed since its cursor learnt, the state and the cursor moved in one conditional update
(:func:`train`; see the package's doc)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.errors import Conflict
from offerengine.learning import bandit
from offerengine.learning.models import LearningModel
from offerengine.learning.policy import ContextualDef, Learner
from offerengine.learning.store._logs import BATCH, WRITE_LAG, closed_logs, rewards_of

if TYPE_CHECKING:
    from offerengine.snapshots.core import Snapshot


def lines(snapshot: Snapshot) -> Iterator[tuple[Learner, ContextualDef]]:
    """Every bandit of the tenant's snapshot with what it learns for: the activity it ranks,
    or shopping (its offer rules' conversion model)."""
    seen: set[tuple[uuid.UUID, str]] = set()
    index = snapshot.decisioning
    for activity in (*index.activities.values(), *index.variants.values()):
        for found in (activity.contextual, activity.shadow):
            if found is not None and (activity.id, found.line) not in seen:
                seen.add((activity.id, found.line))
                yield activity, found
    shop = snapshot.shopping.learner
    if shop is not None:
        for found in (shop.contextual, shop.shadow):
            if found is not None:
                yield shop, found


@dataclass(frozen=True, slots=True)
class Round:
    activity_id: uuid.UUID
    line: str
    version: int
    learnt: int  # proposals learnt from in this round
    started: bool  # this round started the version


async def active(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID, line: str
) -> LearningModel | None:
    return await session.scalar(
        sa.select(LearningModel).where(
            LearningModel.tenant_id == tenant_id,
            LearningModel.activity_id == activity_id,
            LearningModel.line == line,
            LearningModel.active,
        )
    )


async def _latest_version(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID, line: str
) -> int:
    found = await session.scalar(
        sa.select(sa.func.max(LearningModel.version)).where(
            LearningModel.tenant_id == tenant_id,
            LearningModel.activity_id == activity_id,
            LearningModel.line == line,
        )
    )
    return int(found or 0)


async def start_version(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    activity_id: uuid.UUID,
    spec: ContextualDef,
    previous: LearningModel | None,
    *,
    state: bandit.LinearBandit | None = None,
    started_from: int | None = None,
) -> LearningModel:
    """A new active version of the line under ``spec``: from ``state`` when given, else from
    the previous version's state when the features are the same, else from nothing."""
    if state is None:
        if previous is not None and previous.shape == spec.shape:
            state = bandit.LinearBandit.from_dict(previous.state).with_settings(spec.settings)
            started_from = previous.version
        else:
            state = spec.fresh()
    if previous is not None:
        previous.active = False
    row = LearningModel(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        activity_id=activity_id,
        line=spec.line,
        version=await _latest_version(session, tenant_id, activity_id, spec.line) + 1,
        active=True,
        settings_key=spec.key,
        shape=spec.shape,
        settings=spec.document(),
        state=state.to_dict(),
        started_from=started_from,
        revision=0,
        trained_through=previous.trained_through if previous is not None else None,
        trained_through_id=previous.trained_through_id if previous is not None else None,
        decisions=0,
        reward_total=0.0,
    )
    session.add(row)
    await session.flush()
    return row


async def train(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    snapshot: Snapshot,
    *,
    now: datetime,
    limit: int = BATCH,
) -> list[Round]:
    """One round for every bandit of the tenant (see the package's doc). The caller commits."""
    rounds = []
    for activity, spec in lines(snapshot):
        row = await active(session, tenant_id, activity.id, spec.line)
        started = False
        if row is None or row.settings_key != spec.key:
            # The version the settings name already exists (settings changed back): bring it back.
            again = await session.scalar(
                sa.select(LearningModel)
                .where(
                    LearningModel.tenant_id == tenant_id,
                    LearningModel.activity_id == activity.id,
                    LearningModel.line == spec.line,
                    LearningModel.settings_key == spec.key,
                )
                .order_by(LearningModel.version.desc())
                .limit(1)
            )
            if again is not None and row is not None:
                row.active = False
                again.active = True
                await session.flush()
                row = again
            else:
                row = await start_version(session, tenant_id, activity.id, spec, row)
                started = True
        learnt = await _learn(session, tenant_id, activity, spec, row, now=now, limit=limit)
        rounds.append(Round(activity.id, spec.line, row.version, learnt, started))
    return rounds


async def _learn(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    activity: Learner,
    spec: ContextualDef,
    row: LearningModel,
    *,
    now: datetime,
    limit: int,
) -> int:
    after = (
        (row.trained_through, row.trained_through_id)
        if row.trained_through is not None and row.trained_through_id is not None
        else None
    )
    logs = await closed_logs(
        session,
        tenant_id,
        activity.id,
        after=after,
        until=now - spec.window - WRITE_LAG,
        limit=limit,
    )
    if not logs:
        return 0
    rewards = await rewards_of(session, tenant_id, logs, activity, spec)
    model = bandit.LinearBandit.from_dict(row.state)
    learnt, total = 0, 0.0
    for log in logs:
        x = log.contexts.get(spec.shape)
        if x is None or len(x) != model.dimension:
            continue  # logged with other features (another line's, or before they changed)
        reward = rewards.get((log.decision_id, log.offer_id), 0.0)
        model.update(log.offer_id, x, reward)
        learnt += 1
        total += reward
    last = logs[-1]
    moved = await session.execute(
        sa.update(LearningModel)
        .where(LearningModel.id == row.id, LearningModel.revision == row.revision)
        .values(
            state=model.to_dict(),
            revision=row.revision + 1,
            trained_through=last.made_at,
            trained_through_id=last.decision_id,
            decisions=LearningModel.decisions + learnt,
            reward_total=LearningModel.reward_total + total,
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("another round trained this model meanwhile")
    return learnt
