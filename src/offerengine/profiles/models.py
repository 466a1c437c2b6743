from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, JSONAny, TimestampMixin, utcnow


class Profile(TimestampMixin, Base):
    """What is known of one profile of a tenant: attributes and consent as the API set them, and
    behavioural aggregates kept from its events (views, clicks, accepts, purchases, spend, when
    last seen; in total and per offer category), and the state its features are read from."""

    __tablename__ = "profiles"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "profile_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    profile_id: Mapped[str] = mapped_column(sa.String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONAny, default=dict)
    consent: Mapped[dict[str, bool]] = mapped_column(JSONAny, default=dict)
    aggregates: Mapped[dict[str, Any]] = mapped_column(JSONAny, default=dict)
    # Day buckets and all-time sums its events built (offerengine.profiles.features).
    features: Mapped[dict[str, Any]] = mapped_column(JSONAny, default=dict)
    last_seen_at: Mapped[datetime | None] = mapped_column()


class SegmentFit(Base):
    """A learned segment's k-means fit on the tenant's profiles."""

    __tablename__ = "segment_fits"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "name"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(50))
    data: Mapped[dict[str, Any]] = mapped_column(JSONAny)
    fitted_at: Mapped[datetime] = mapped_column(default=utcnow)
