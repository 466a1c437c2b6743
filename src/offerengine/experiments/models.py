from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, JSONAny, TenantOwnedMixin, TimestampMixin, utcnow


class Experiment(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    __tablename__ = "experiments"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(100))
    hypothesis: Mapped[str | None] = mapped_column(sa.Text)
    unit: Mapped[str] = mapped_column(sa.String(20))
    variants: Mapped[list[Any]] = mapped_column(JSONAny)
    coverage: Mapped[float] = mapped_column(default=1.0)
    targeting: Mapped[Any] = mapped_column(JSONAny, nullable=True)
    namespace: Mapped[Any] = mapped_column(JSONAny, nullable=True)
    primary_metric: Mapped[dict[str, Any]]
    secondary_metrics: Mapped[list[Any]] = mapped_column(JSONAny, default=list)
    seed: Mapped[str | None] = mapped_column(sa.String(100))
    hash_version: Mapped[int] = mapped_column(default=2)
    minimum_effect: Mapped[float] = mapped_column(default=0.05)
    status: Mapped[str] = mapped_column(sa.String(20), default="draft")
    start: Mapped[datetime | None]
    end: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    winner: Mapped[str | None] = mapped_column(sa.String(64))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class Exposure(IdMixin, TenantOwnedMixin, Base):
    """A unit's first exposure to an experiment: the variant it keeps from then on (sticky)."""

    __tablename__ = "experiment_exposures"
    __table_args__ = (sa.UniqueConstraint("experiment_id", "unit_id"),)

    experiment_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE")
    )
    unit_id: Mapped[str] = mapped_column(sa.String(200))
    variant: Mapped[str] = mapped_column(sa.String(64))
    bucket: Mapped[float | None]
    exposed_at: Mapped[datetime] = mapped_column(default=utcnow)
