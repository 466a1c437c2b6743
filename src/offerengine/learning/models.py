from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, JSONAny, TenantOwnedMixin, TimestampMixin


class LearningModel(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """One version of a line of an activity's contextual bandit (see
    :mod:`offerengine.learning.policy`): its settings, its learnt state, and how far through the
    logged decisions it has learnt. Kept apart from configuration: a settings change starts a
    new version and keeps this one, which can be restored. One version per line is active."""

    __tablename__ = "learning_models"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "activity_id", "line", "version"),
        sa.Index(None, "tenant_id", "active"),
    )

    activity_id: Mapped[uuid.UUID] = mapped_column()
    line: Mapped[str] = mapped_column(sa.String(120))
    version: Mapped[int] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)
    settings_key: Mapped[str] = mapped_column(sa.String(16))
    shape: Mapped[str] = mapped_column(sa.String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONAny)
    state: Mapped[dict[str, Any]] = mapped_column(JSONAny)
    started_from: Mapped[int | None] = mapped_column()  # the version whose state it began with
    # Bumped by every training round: a round whose revision moved meanwhile is discarded.
    revision: Mapped[int] = mapped_column(default=0)
    # The last decision learnt from, by (made_at, id): the next round starts after it.
    trained_through: Mapped[datetime | None] = mapped_column()
    trained_through_id: Mapped[uuid.UUID | None] = mapped_column()
    decisions: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    reward_total: Mapped[float] = mapped_column(sa.Float, default=0.0)


class DecisionLog(TenantOwnedMixin, Base):
    """What a bandit logged of one item it proposed (or, for a shadow beside another ranking,
    of the first item): the candidates it chose from in the activity's order, the probability of
    the choice, the feature vectors by the features' shape, the version that chose, and the
    shadow's pick. Written behind the decision, with it; training and offline evaluation read
    an activity's logs in order."""

    __tablename__ = "decision_logs"
    __table_args__ = (
        sa.PrimaryKeyConstraint("tenant_id", "decision_id", "activity_id", "rank"),
        sa.Index(None, "tenant_id", "activity_id", "made_at", "decision_id"),
    )

    decision_id: Mapped[uuid.UUID] = mapped_column()
    activity_id: Mapped[uuid.UUID] = mapped_column()
    rank: Mapped[int] = mapped_column()  # 0: the activity's first item
    made_at: Mapped[datetime]
    offer_id: Mapped[str] = mapped_column(sa.String(60))  # an offer's id, or an offer type
    propensity: Mapped[float] = mapped_column(sa.Float)
    candidates: Mapped[list[str]] = mapped_column(JSONAny)
    contexts: Mapped[dict[str, list[float]]] = mapped_column(JSONAny)
    model: Mapped[dict[str, Any] | None] = mapped_column(JSONAny)
    shadow: Mapped[str | None] = mapped_column(sa.String(60))
