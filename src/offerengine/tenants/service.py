from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import ratelimit
from offerengine.auth.core import Actor
from offerengine.db.session import Sessions
from offerengine.errors import Conflict
from offerengine.snapshots import service as snapshots
from offerengine.tenants.models import Tenant
from offerengine.tenants.schemas import TenantCreate, TenantRead, TenantUpdate
from offerengine.versioning import service as versioning


def dump(tenant: Tenant) -> dict[str, object]:
    return TenantRead.model_validate(tenant, from_attributes=True).model_dump(mode="json")


async def find(session: AsyncSession, ref: str) -> Tenant | None:
    """A tenant by id or by code (codes are matched case-insensitively)."""
    try:
        tenant_id: uuid.UUID | None = uuid.UUID(ref)
    except ValueError:
        tenant_id = None
    if tenant_id is not None:
        return await session.get(Tenant, tenant_id)
    return await session.scalar(sa.select(Tenant).where(Tenant.code == ref.upper()))


async def list_tenants(session: AsyncSession) -> Sequence[Tenant]:
    return (await session.scalars(sa.select(Tenant).order_by(Tenant.code))).all()


async def all_tenants(sessions: Sessions) -> Sequence[Tenant]:
    """Every tenant by code, read in a session of its own (the admin UI's tenant switch)."""
    async with sessions.session_factory() as session:
        return await list_tenants(session)


async def tenant_by_id(sessions: Sessions, tenant_id: uuid.UUID) -> Tenant | None:
    """A tenant by id, read in a session of its own (the tenant an admin page works on)."""
    async with sessions.session_factory() as session:
        return await session.get(Tenant, tenant_id)


async def create(session: AsyncSession, *, data: TenantCreate, actor: Actor) -> Tenant:
    if await session.scalar(sa.select(Tenant.id).where(Tenant.code == data.code)):
        raise Conflict.field(("body", "code"), f"a tenant with code {data.code!r} exists")
    fields = data.model_dump(exclude={"template_sets"})
    fields["settings"] = ratelimit.check_settings(fields["settings"])
    tenant = Tenant(**fields)
    session.add(tenant)
    await session.flush()
    await session.refresh(tenant)
    versioning.audit(
        session,
        actor=actor,
        action="tenant.create",
        tenant_id=tenant.id,
        object_type="tenant",
        object_id=tenant.id,
        version=tenant.version,
        after=dump(tenant),
    )
    snapshots.mark_config_changed(session, tenant.id)
    return tenant


async def update(
    session: AsyncSession,
    *,
    tenant: Tenant,
    data: TenantUpdate,
    actor: Actor,
    expected_version: int | None,
) -> Tenant:
    versioning.check_version(tenant, expected_version, f"tenant {tenant.code}")
    before = dump(tenant)
    fields = data.model_dump(exclude={"version"})
    fields["settings"] = _settings(fields["settings"], tenant.settings)
    if fields["status"] != tenant.status:
        snapshots.mark_auth_changed(session)  # keys of a suspended tenant stop working everywhere
    for name, value in fields.items():
        setattr(tenant, name, value)
    versioning.bump(tenant)
    await session.flush()
    await session.refresh(tenant)
    versioning.audit(
        session,
        actor=actor,
        action="tenant.update",
        tenant_id=tenant.id,
        object_type="tenant",
        object_id=tenant.id,
        version=tenant.version,
        before=before,
        after=dump(tenant),
    )
    snapshots.mark_config_changed(session, tenant.id)
    return tenant


def _settings(given: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """New settings, checked; the keys' own rate limits are kept unless given, as they are set
    through the API keys API (a tenant read, edited and written back keeps them anyway)."""
    if ratelimit.KEY_LIMITS not in given and ratelimit.KEY_LIMITS in stored:
        given = {**given, ratelimit.KEY_LIMITS: stored[ratelimit.KEY_LIMITS]}
    return ratelimit.check_settings(given)


async def delete(session: AsyncSession, *, tenant: Tenant, actor: Actor) -> None:
    """Delete a tenant and everything it owns; the audit log keeps the record."""
    versioning.audit(
        session,
        actor=actor,
        action="tenant.delete",
        tenant_id=tenant.id,
        object_type="tenant",
        object_id=tenant.id,
        before=dump(tenant),
    )
    snapshots.mark_tenant_deleted(session, tenant.id)
    await session.delete(tenant)
    await session.flush()
