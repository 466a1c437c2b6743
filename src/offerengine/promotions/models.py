from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, JSONAny, TenantOwnedMixin, utcnow


class UpliftModel(IdMixin, TenantOwnedMixin, Base):
    """A promotion's two-model uplift estimator, fitted on a randomised past promotion's
    outcomes; the latest version of a promotion's serves."""

    __tablename__ = "uplift_models"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "promotion", "version"),)

    promotion: Mapped[str] = mapped_column(sa.String(50))
    version: Mapped[int] = mapped_column()
    features: Mapped[list[str]] = mapped_column(JSONAny)
    # The fitted scikit-learn estimators, pickled: written and read only by this service.
    estimator: Mapped[bytes] = mapped_column(sa.LargeBinary)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONAny)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)


class UpliftModelChoice(TenantOwnedMixin, Base):
    """The version of a promotion's uplift model that serves when it is not the latest: a
    retraining whose new version did not beat the old one's Qini keeps the old one here, and a
    rollback names any kept version. Without a row, the latest version serves."""

    __tablename__ = "uplift_model_choices"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "promotion"),)

    promotion: Mapped[str] = mapped_column(sa.String(50))
    version: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(sa.String(200))
    chosen_at: Mapped[datetime] = mapped_column(default=utcnow)


class PromotionGrant(TenantOwnedMixin, Base):
    """A promotion given to a customer by a recorded recommendation: what budget, stock and the
    per-customer limit are counted from."""

    __tablename__ = "promotion_grants"
    __table_args__ = (
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.Index(None, "tenant_id", "promotion", "customer_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column()
    promotion: Mapped[str] = mapped_column(sa.String(50))
    customer_id: Mapped[str] = mapped_column(sa.String(200))
    product: Mapped[str] = mapped_column(sa.String(100))
    cost_minor: Mapped[int] = mapped_column(sa.BigInteger)
    expected_margin: Mapped[float] = mapped_column(sa.Float)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class PromotionCounter(TenantOwnedMixin, Base):
    """A promotion's spent budget (product '') and each product's grants, added to only while
    within the limit, in one statement: concurrent recommendations never overspend."""

    __tablename__ = "promotion_counters"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "promotion", "product"),)

    promotion: Mapped[str] = mapped_column(sa.String(50))
    product: Mapped[str] = mapped_column(sa.String(100))
    used: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # minor units, or grants
