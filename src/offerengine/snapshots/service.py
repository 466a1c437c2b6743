"""Recording configuration changes in the transaction that makes them.

Services call :func:`mark_config_changed` (or :func:`mark_auth_changed`) on the session; the unit of
work calls :func:`flush_changes` just before it commits, which bumps the tenant's ``config_version``
(and the deployment's ``auth_version``) in that same transaction. After the commit the change feed
announces the new versions to every worker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.snapshots.models import SystemState
from offerengine.tenants.models import Tenant

AUTH_VERSION_KEY = "auth_version"
_CONFIG = "offerengine.changes.config"
_DELETED = "offerengine.changes.deleted"
_AUTH = "offerengine.changes.auth"


@dataclass(frozen=True, slots=True)
class Changes:
    """What a committed transaction changed: new config versions, deleted tenants, auth version."""

    config: dict[uuid.UUID, int] = field(default_factory=dict)
    deleted: frozenset[uuid.UUID] = frozenset()
    auth_version: int | None = None

    def __bool__(self) -> bool:
        return bool(self.config or self.deleted or self.auth_version is not None)


def mark_config_changed(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    session.info.setdefault(_CONFIG, set()).add(tenant_id)


def mark_tenant_deleted(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    session.info.setdefault(_DELETED, set()).add(tenant_id)
    mark_auth_changed(session)


def mark_auth_changed(session: AsyncSession) -> None:
    session.info[_AUTH] = True


async def flush_changes(session: AsyncSession) -> Changes:
    """Bump the versions of what this transaction changed; call just before commit."""
    deleted: set[uuid.UUID] = session.info.pop(_DELETED, set())
    tenants: set[uuid.UUID] = session.info.pop(_CONFIG, set()) - deleted
    config: dict[uuid.UUID, int] = {}
    # Sorted, so that two transactions touching the same tenants lock their rows in one order.
    for tenant_id in sorted(tenants):
        bumped = await session.execute(
            sa.update(Tenant)
            .where(Tenant.id == tenant_id)
            .values(config_version=Tenant.config_version + 1)
            .returning(Tenant.config_version)
            .execution_options(synchronize_session=False)
        )
        row = bumped.first()
        if row is not None:
            config[tenant_id] = int(row[0])
    auth_version: int | None = None
    if session.info.pop(_AUTH, False):
        bumped = await session.execute(
            sa.update(SystemState)
            .where(SystemState.key == AUTH_VERSION_KEY)
            .values(value=SystemState.value + 1)
            .returning(SystemState.value)
            .execution_options(synchronize_session=False)
        )
        auth_version = int(bumped.scalar_one())
    return Changes(config, frozenset(deleted), auth_version)


async def current_versions(session: AsyncSession) -> tuple[dict[uuid.UUID, int], int]:
    """Every tenant's config version and the auth version: what a polling worker compares."""
    rows = await session.execute(sa.select(Tenant.id, Tenant.config_version))
    auth = await session.scalar(
        sa.select(SystemState.value).where(SystemState.key == AUTH_VERSION_KEY)
    )
    return {row[0]: int(row[1]) for row in rows}, int(auth or 0)
