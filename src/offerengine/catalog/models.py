from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin


class Product(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    __tablename__ = "products"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "product_code"),
        sa.Index(None, "tenant_id", "product_type"),
        sa.Index(None, "tenant_id", "category"),
    )

    product_type: Mapped[str] = mapped_column(sa.String(50))
    product_code: Mapped[str] = mapped_column(sa.String(50))
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    category: Mapped[str | None] = mapped_column(sa.String(100))
    base_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    cost_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Guard rails of pricing: whatever the rules say, the price stays within them.
    price_floor_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    price_ceiling_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    # "metadata" is taken by SQLAlchemy's declarative base; the column keeps the seed's name.
    attributes: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    # A partner product (hotel, car hire, insurance …): who supplies it, and what its price is
    # per (per_trip, per_night, per_day, per_passenger; none: per seated passenger).
    partner_code: Mapped[str | None] = mapped_column(sa.String(20))
    partner_name: Mapped[str | None] = mapped_column(sa.String(100))
    pricing_unit: Mapped[str | None] = mapped_column(sa.String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)

    # The version is set by offerengine.versioning (a restored object continues its history); the
    # ORM still adds "WHERE version = <old>" to every UPDATE, so a concurrent change fails.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
