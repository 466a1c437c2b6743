"""Serving what the bandits learnt: each tenant's active versions as the workers hold them
(:class:`ModelCache`, read again when stale, decoding only the states that moved), a version's
state under the activity's current settings (:class:`Served`, :func:`model_of`), and the state
before anything is learnt (:func:`fresh`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.learning import bandit
from offerengine.learning.models import LearningModel
from offerengine.learning.policy import ContextualDef


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


def model_of(row: LearningModel | None, spec: ContextualDef) -> bandit.LinearBandit:
    """A version's learnt state under ``spec`` (nothing learnt when there is no version)."""
    if row is None:
        return spec.fresh()
    return _served(row).under(spec)
