from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, JSONAny, TenantOwnedMixin, TimestampMixin


class BundleTemplate(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """Seed 001's bundle template: which products make a bundle offer, and its discount."""

    __tablename__ = "bundle_templates"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "bundle_name"),)

    bundle_name: Mapped[str] = mapped_column(sa.String(100))
    bundle_type: Mapped[str] = mapped_column(sa.String(50))
    description: Mapped[str | None] = mapped_column(sa.Text)
    product_types: Mapped[list[Any]] = mapped_column(JSONAny)
    discount_percentage: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal(0))
    priority: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
