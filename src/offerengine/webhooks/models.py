"""Outgoing webhooks, stored: each tenant's signing secret, the outbox of deliveries (written in
the transaction of what caused them, so a restart loses none) and the log of their attempts."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, TenantOwnedMixin, TimestampMixin
from offerengine.ids import new_time_uuid


class WebhookSecret(Base):
    """A tenant's signing secret, made on first need. After a rotation the previous secret still
    signs (a second ``v1``) until ``previous_until``, so that receivers can switch over. Stored
    as is: signing needs the secret itself, not a hash of it."""

    __tablename__ = "webhook_secrets"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(sa.String(100))
    previous_secret: Mapped[str | None] = mapped_column(sa.String(100))
    previous_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


class WebhookDelivery(TenantOwnedMixin, TimestampMixin, Base):
    """One notice to POST to one URL (the outbox row), until delivered or given up.

    ``status`` is ``pending`` (due at ``next_attempt_at``), ``delivered`` or ``failed``. A
    deliverer claims a due row by setting ``lease`` (its token) and ``locked_until`` in one
    conditional update, so that no other deliverer takes it while the lease lasts; a deliverer
    that died leaves a lease that runs out, and the row is claimed again (at least once).
    ``body`` is the exact JSON sent and signed, the same on every attempt."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        sa.Index(None, "status", "next_attempt_at"),
        sa.Index(None, "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_time_uuid, sort_order=-10)
    event_type: Mapped[str] = mapped_column(sa.String(60))
    url: Mapped[str] = mapped_column(sa.String(500))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)  # made so far, in every round
    attempt_limit: Mapped[int] = mapped_column(sa.Integer)  # failed once ``attempts`` reaches it
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    lease: Mapped[str | None] = mapped_column(sa.String(32))
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One attempt at a delivery: its number, when and how long, the address connected to, and
    the receiver's status code or the error (a refused destination, a timeout …)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.UniqueConstraint("delivery_id", "attempt"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_time_uuid)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("webhook_outbox.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(sa.Integer)
    started_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(sa.Integer)
    address: Mapped[str | None] = mapped_column(sa.String(60))
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.String(500))
    delivered: Mapped[bool] = mapped_column(sa.Boolean)
