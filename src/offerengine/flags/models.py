from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, JSONAny, TenantOwnedMixin, TimestampMixin


class FeatureFlag(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    __tablename__ = "feature_flags"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str | None] = mapped_column(sa.Text)
    type: Mapped[str] = mapped_column(sa.String(20))
    value: Mapped[Any] = mapped_column(JSONAny)
    default_value: Mapped[Any] = mapped_column(JSONAny)
    is_enabled: Mapped[bool] = mapped_column(default=False)
    rollout: Mapped[Any] = mapped_column(JSONAny, nullable=True)
    rules: Mapped[list[Any]] = mapped_column(JSONAny, default=list)
    variants: Mapped[list[Any]] = mapped_column(JSONAny, default=list)
    tags: Mapped[list[str]] = mapped_column(JSONAny, default=list)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
