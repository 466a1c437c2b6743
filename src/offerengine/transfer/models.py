"""Import jobs: a bulk import running in the background, and how far it is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, JSONAny, TenantOwnedMixin, utcnow


class ImportJob(IdMixin, TenantOwnedMixin, Base):
    """One file imported in the background: its phase and rows done while it runs (stored as
    each phase starts and ends; the worker running it knows them row by row), then its counts
    or the problem that refused it (nothing imported)."""

    __tablename__ = "import_jobs"
    __table_args__ = (sa.Index(None, "tenant_id", "created_at"),)

    kind: Mapped[str] = mapped_column(sa.String(30))
    file_name: Mapped[str | None] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(20))  # running, done, failed
    phase: Mapped[str] = mapped_column(sa.String(20))  # reading, checking, writing, done
    processed: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSONAny)
    actor_name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
