"""Where contextual bandits keep what they learnt, and how they learn it.

**Versions.** Each line of an activity's bandit (:mod:`.policy`) has versions in
``learning_models``; one is active. When the activity's settings change, the next training round
starts a new version — from the previous one's state when the features are the same, else from
nothing — and keeps the old one, which :func:`restore` can bring back.

**Logs.** Every decision a bandit ranks writes, per proposed item, a ``decision_logs`` row (behind
the answer, with the decision): the candidates it chose from, the propensity of the choice, the
feature vectors, the version that chose. Enough to learn from, and to evaluate any other policy
offline (:func:`logged`, :mod:`.evaluate`).

**Learning.** A round (:func:`train`) reads the activity's logs whose reward window has closed
since the version's cursor, joins the feedback events about each proposed offer within the window, and
updates the arm of each proposed offer with the reward (0 when nothing followed). A round is one
transaction that moves the cursor with the state: a concurrent round (another worker) that moved
it first wins, and this one is dropped, so no decision is learnt twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.decisioning.models import Decision
from offerengine.errors import Conflict, NotFound
from offerengine.events.models import Event
from offerengine.learning import bandit
from offerengine.learning.models import DecisionLog, LearningModel
from offerengine.learning.policy import (
    REWARD_EVENT,
    SHOP,
    ContextualDef,
    Learner,
    Logged,
    Proposable,
)

if TYPE_CHECKING:
    from offerengine.snapshots.core import Snapshot

# Decisions are written behind their answers, in batches: a round leaves the last moments alone.
WRITE_LAG = timedelta(seconds=2)
BATCH = 2000


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


# ---- serving ----


@dataclass
class Served:
    """A line's active version as a worker serves it."""

    id: uuid.UUID
    version: int
    settings_key: str
    shape: str
    model: bandit.LinearBandit
    _as: dict[str, bandit.LinearBandit] = field(default_factory=dict)

    def under(self, spec: ContextualDef) -> bandit.LinearBandit:
        """The learnt state under ``spec``'s settings: itself, or — between a settings change
        and the round that starts its version — the state with the new settings (nothing
        learnt when the features changed)."""
        if spec.key == self.settings_key:
            return self.model
        found = self._as.get(spec.key)
        if found is None:
            found = (
                self.model.with_settings(spec.settings)
                if spec.shape == self.shape and spec.dimension == self.model.dimension
                else spec.fresh()
            )
            self._as[spec.key] = found
        return found


_FRESH: dict[str, bandit.LinearBandit] = {}


def fresh(spec: ContextualDef) -> bandit.LinearBandit:
    """A line's state before anything is learnt: one per settings, shared (never updated in
    place: training rounds decode their own copy)."""
    found = _FRESH.get(spec.key)
    if found is None:
        found = _FRESH[spec.key] = spec.fresh()
    return found


class ModelCache:
    """Each tenant's active versions, read again when older than ``refresh_seconds`` (only the
    states whose revision moved are decoded again)."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], refresh_seconds: float
    ) -> None:
        self._session_factory = session_factory
        self._seconds = refresh_seconds
        self._cached: dict[uuid.UUID, tuple[float, dict[tuple[uuid.UUID, str], Served]]] = {}
        self._revisions: dict[uuid.UUID, int] = {}

    async def get(self, tenant_id: uuid.UUID) -> Mapping[tuple[uuid.UUID, str], Served]:
        now = time.monotonic()
        found = self._cached.get(tenant_id)
        if found is not None and now - found[0] < self._seconds:
            return found[1]
        old = found[1] if found is not None else {}
        async with self._session_factory() as session:
            heads = (
                await session.execute(
                    sa.select(
                        LearningModel.id,
                        LearningModel.activity_id,
                        LearningModel.line,
                        LearningModel.revision,
                    ).where(LearningModel.tenant_id == tenant_id, LearningModel.active)
                )
            ).all()
            served: dict[tuple[uuid.UUID, str], Served] = {}
            stale = []
            for model_id, activity_id, line, revision in heads:
                kept = old.get((activity_id, line))
                if (
                    kept is not None
                    and kept.id == model_id
                    and self._revisions.get(model_id) == revision
                ):
                    served[(activity_id, line)] = kept
                else:
                    stale.append(model_id)
            if stale:
                for row in await session.scalars(
                    sa.select(LearningModel).where(LearningModel.id.in_(stale))
                ):
                    served[(row.activity_id, row.line)] = _served(row)
                    self._revisions[row.id] = row.revision
        self._cached[tenant_id] = (now, served)
        return served

    def forget(self, tenant_id: uuid.UUID) -> None:
        self._cached.pop(tenant_id, None)


def _served(row: LearningModel) -> Served:
    return Served(
        row.id, row.version, row.settings_key, row.shape, bandit.LinearBandit.from_dict(row.state)
    )


# ---- logs and rewards ----


async def _rewards(
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


async def _closed_logs(
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
        logs = await _closed_logs(
            session,
            tenant_id,
            activity.id,
            after=after,
            until=now - spec.window - WRITE_LAG,
            limit=BATCH,
        )
        if not logs:
            break
        rewards = await _rewards(session, tenant_id, logs, activity, spec)
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


# ---- training ----


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


async def _start_version(
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
    """One round for every bandit of the tenant (see the module's doc). The caller commits."""
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
                row = await _start_version(session, tenant_id, activity.id, spec, row)
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
    logs = await _closed_logs(
        session,
        tenant_id,
        activity.id,
        after=after,
        until=now - spec.window - WRITE_LAG,
        limit=limit,
    )
    if not logs:
        return 0
    rewards = await _rewards(session, tenant_id, logs, activity, spec)
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


# ---- the admin's view ----


async def versions(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID | None = None
) -> Sequence[LearningModel]:
    stmt = sa.select(LearningModel).where(LearningModel.tenant_id == tenant_id)
    if activity_id is not None:
        stmt = stmt.where(LearningModel.activity_id == activity_id)
    return (
        await session.scalars(
            stmt.order_by(LearningModel.activity_id, LearningModel.line, LearningModel.version)
        )
    ).all()


async def get_version(
    session: AsyncSession, tenant_id: uuid.UUID, model_id: uuid.UUID
) -> LearningModel:
    row = await session.get(LearningModel, model_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"no model {model_id}")
    return row


async def restore(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    snapshot: Snapshot,
    model_id: uuid.UUID,
) -> LearningModel:
    """Serve what an old version learnt again: a new version of its line under the activity's
    current settings, starting from that version's state. 409 when the activity's features are
    no longer the version's (the state would not fit)."""
    old = await get_version(session, tenant_id, model_id)
    spec = next(
        (s for a, s in lines(snapshot) if a.id == old.activity_id and s.line == old.line), None
    )
    if spec is None:
        raise Conflict(
            f"the activity of model {model_id} no longer ranks with this bandit "
            f"({old.line}); nothing to restore it into"
        )
    if spec.shape != old.shape:
        raise Conflict(
            "the activity's features are no longer this version's: its state does not fit "
            f"(version {old.version} read {', '.join(old.settings.get('features', [])) or 'none'})"
        )
    current = await active(session, tenant_id, old.activity_id, old.line)
    state = bandit.LinearBandit.from_dict(old.state).with_settings(spec.settings)
    return await _start_version(
        session,
        tenant_id,
        old.activity_id,
        spec,
        current,
        state=state,
        started_from=old.version,
    )


def model_of(row: LearningModel | None, spec: ContextualDef) -> bandit.LinearBandit:
    """A version's learnt state under ``spec`` (nothing learnt when there is no version)."""
    if row is None:
        return spec.fresh()
    return _served(row).under(spec)


def summary(row: LearningModel) -> dict[str, Any]:
    """A version as the API shows it: its settings, progress, and each offer's arm."""
    arms = {
        key: {
            "learnt": arm["n"],
            "weights": [round(float(w), 6) for w in np.array(arm["a_inv"]) @ np.array(arm["b"])],
        }
        for key, arm in row.state.get("arms", {}).items()
    }
    return {
        "id": str(row.id),
        "activity_id": str(row.activity_id),
        "line": row.line,
        "version": row.version,
        "active": row.active,
        "started_from": row.started_from,
        "settings": row.settings,
        "features": ["1", *row.settings.get("features", [])],
        "decisions_learnt": row.decisions,
        "reward_total": round(row.reward_total, 6),
        "mean_reward": round(row.reward_total / row.decisions, 6) if row.decisions else None,
        "trained_through": row.trained_through.isoformat() if row.trained_through else None,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "arms": arms,
    }
