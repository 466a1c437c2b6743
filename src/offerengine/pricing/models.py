from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, JSONAny, TenantOwnedMixin, TimestampMixin


class PricingRule(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    __tablename__ = "pricing_rules"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "rule_name"),
        sa.Index(None, "tenant_id", "priority"),
        # A page of the list: the order rules apply in (priority, then creation).
        sa.Index(None, "tenant_id", "priority", "created_at", "id"),
    )

    rule_name: Mapped[str] = mapped_column(sa.String(100))
    rule_type: Mapped[str] = mapped_column(sa.String(20))
    # Scope: one product (no foreign key, so that a restored product keeps its rules), or a
    # product type and/or category, or (all empty) every product.
    product_id: Mapped[uuid.UUID | None]
    product_type: Mapped[str | None] = mapped_column(sa.String(50))
    category: Mapped[str | None] = mapped_column(sa.String(100))
    conditions: Mapped[Any] = mapped_column(JSONAny)  # a JSON condition or an expression string
    adjustments: Mapped[dict[str, Any]]
    priority: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    exclusive: Mapped[bool] = mapped_column(default=False)
    tags: Mapped[list[str]] = mapped_column(JSONAny, default=list)
    description: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
