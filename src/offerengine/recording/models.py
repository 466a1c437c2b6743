"""Records the database refused, kept with the error until they are re-driven."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base


class DeadLetter(Base):
    """A record that could not be stored, set aside so that the others are: its kind and key,
    where it was refused (``source``: the embedded writer, or a stream's consumer), the error, and
    the record as ASCII JSON (``records.to_json``). Its tenant is not a foreign key: a dead letter
    outlives nothing, but it must not stop a tenant from being deleted either."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        sa.UniqueConstraint("kind", "record_id"),
        sa.Index(None, "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.String(20))
    record_id: Mapped[str] = mapped_column(sa.String(200))
    source: Mapped[str] = mapped_column(sa.String(60))
    error: Mapped[str] = mapped_column(sa.Text)
    payload: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    redriven_at: Mapped[datetime | None]
