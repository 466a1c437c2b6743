from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, TenantOwnedMixin, utcnow


class Event(IdMixin, TenantOwnedMixin, Base):
    """Something a unit did (an impression, a click, a purchase worth `value`)."""

    __tablename__ = "events"
    __table_args__ = (
        sa.Index(None, "tenant_id", "type", "profile_id"),
        sa.Index(None, "tenant_id", "type", "customer_id"),
        sa.Index(None, "tenant_id", "type", "session_id"),
        sa.Index(None, "tenant_id", "decision_id"),
        # A client's own id for the event: sending it again is a no-op.
        sa.UniqueConstraint("tenant_id", "event_id"),
    )

    type: Mapped[str] = mapped_column(sa.String(50))
    event_id: Mapped[str | None] = mapped_column(sa.String(200))
    activity_id: Mapped[uuid.UUID | None]
    profile_id: Mapped[str | None] = mapped_column(sa.String(200))
    customer_id: Mapped[str | None] = mapped_column(sa.String(200))
    session_id: Mapped[str | None] = mapped_column(sa.String(200))
    value: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 6))
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    decision_id: Mapped[uuid.UUID | None]
    offer_id: Mapped[str | None] = mapped_column(sa.String(200))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
