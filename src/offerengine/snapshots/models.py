from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, TenantOwnedMixin


class SystemState(Base):
    """Deployment-wide counters; ``auth_version`` moves whenever a key is revoked or a tenant changes
    status, so that every worker drops its cache of verified keys."""

    __tablename__ = "system_state"

    key: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ConfigChange(IdMixin, TenantOwnedMixin, Base):
    """What one configuration version of a tenant changed: one row per changed object (``kind``,
    ``object_id``), or one row for a whole kind (``object_id`` null: too many objects to list),
    or kind ``*`` for anything (a tenant's settings): what a worker holding the version before
    re-reads to patch its snapshot instead of building it whole. Pruned after
    ``snapshot_change_log_hours``."""

    __tablename__ = "config_changes"
    __table_args__ = (sa.Index("ix_config_changes_tenant_id_version", "tenant_id", "version"),)

    version: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[str] = mapped_column(sa.String(60))
    object_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    changed_at: Mapped[datetime] = mapped_column()
