"""A line's versions as the admin sees them: listed, read (:func:`summary`: settings, progress
and each offer's arm), and an old one restored as a new version under the current settings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.errors import Conflict, NotFound
from offerengine.learning import bandit
from offerengine.learning.models import LearningModel
from offerengine.learning.store._training import active, lines, start_version

if TYPE_CHECKING:
    from offerengine.snapshots.core import Snapshot


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
    return await start_version(
        session,
        tenant_id,
        old.activity_id,
        spec,
        current,
        state=state,
        started_from=old.version,
    )


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
