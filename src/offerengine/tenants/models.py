from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, TimestampMixin


class Tenant(IdMixin, TimestampMixin, Base):
    __tablename__ = "tenants"

    code: Mapped[str] = mapped_column(sa.String(10), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(20))
    base_currency: Mapped[str] = mapped_column(sa.String(3))
    timezone: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    country: Mapped[str | None] = mapped_column(sa.String(2))  # ISO 3166 alpha-2, seed 001's
    # Bumped in the same transaction as any change to the tenant's configuration; workers rebuild
    # their compiled snapshot when they see it move.
    config_version: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    version: Mapped[int] = mapped_column(default=1)

    # The version is set by offerengine.versioning (a restored object continues its history); the
    # ORM still adds "WHERE version = <old>" to every UPDATE, so a concurrent change fails.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
