from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, TenantOwnedMixin, utcnow


class ObjectVersion(IdMixin, TenantOwnedMixin, Base):
    """One immutable version of a configuration object: its full state after a change."""

    __tablename__ = "object_versions"
    __table_args__ = (
        sa.UniqueConstraint("object_type", "object_id", "version"),
        sa.Index(None, "tenant_id", "object_type", "object_id"),
    )

    object_type: Mapped[str] = mapped_column(sa.String(50))
    object_id: Mapped[uuid.UUID]
    version: Mapped[int]
    action: Mapped[str] = mapped_column(sa.String(20))
    data: Mapped[dict[str, Any]]
    actor_kind: Mapped[str] = mapped_column(sa.String(20))
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(IdMixin, Base):
    """Who did what, when, with the state before and after. Kept when its tenant is deleted."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index(None, "tenant_id", "at"),
        sa.Index(None, "object_type", "object_id"),
    )

    tenant_id: Mapped[uuid.UUID | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(sa.String(20))
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(30))
    object_type: Mapped[str | None] = mapped_column(sa.String(50))
    object_id: Mapped[uuid.UUID | None]
    version: Mapped[int | None]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    request_id: Mapped[str | None] = mapped_column(sa.String(128))
    detail: Mapped[str | None] = mapped_column(sa.String(500))
