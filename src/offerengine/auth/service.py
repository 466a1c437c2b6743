"""API keys: creating, listing, revoking, and verifying them on every request without a query.

Verified keys are cached in each worker. Any revocation (or tenant status change) bumps the
deployment's ``auth_version`` in the same transaction; every worker clears its cache when it sees the
new version through the change feed, and the worker that revoked clears it before it answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.auth.core import (
    Actor,
    Principal,
    Role,
    display_prefix,
    hash_secret,
    new_secret,
    same_secret,
)
from offerengine.auth.models import ApiKey
from offerengine.db.base import utcnow
from offerengine.errors import Forbidden, NotFound
from offerengine.snapshots import service as snapshots
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning

PLATFORM_ENV_NAME = "OFFERENGINE_PLATFORM_KEY"


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    secret: str


class KeyCache:
    """Verified keys of this worker, by the hash of their secret."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], platform_secret: str | None
    ) -> None:
        self._session_factory = session_factory
        self._platform_secret = platform_secret
        self._entries: dict[str, Principal] = {}
        self._auth_version = -1
        self._epoch = 0

    def observe_auth(self, version: int) -> None:
        if version > self._auth_version:
            self._auth_version = version
            self._entries.clear()
            self._epoch += 1

    async def verify(self, secret: str) -> Principal | None:
        """The principal of ``secret``, or None if no live key has it."""
        if self._platform_secret is not None and same_secret(secret, self._platform_secret):
            return Principal(None, None, Role.PLATFORM, PLATFORM_ENV_NAME)
        digest = hash_secret(secret)
        principal = self._entries.get(digest)
        if principal is not None:
            return principal
        epoch = self._epoch
        async with self._session_factory() as session:
            row = (
                await session.execute(
                    sa.select(ApiKey, Tenant.status)
                    .outerjoin(Tenant, Tenant.id == ApiKey.tenant_id)
                    .where(ApiKey.secret_hash == digest)
                )
            ).first()
        if row is None or row[0].revoked_at is not None:
            return None
        key, tenant_status = row
        if key.tenant_id is not None and tenant_status != "active":
            raise Forbidden(f"The tenant of this key is {tenant_status}.")
        principal = Principal(key.id, key.tenant_id, Role(key.role), key.name)
        # A revocation seen while we were reading must not be undone by caching what we read.
        if epoch == self._epoch:
            self._entries[digest] = principal
        return principal


async def create_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    name: str,
    role: Role,
    actor: Actor,
) -> CreatedKey:
    """Create a key; the secret is returned here and never again."""
    secret = new_secret()
    key = ApiKey(
        tenant_id=tenant_id,
        name=name,
        role=role.value,
        prefix=display_prefix(secret),
        secret_hash=hash_secret(secret),
        created_by=actor.id,
    )
    session.add(key)
    await session.flush()
    versioning.audit(
        session,
        actor=actor,
        action="api_key.create",
        tenant_id=tenant_id,
        object_type="api_key",
        object_id=key.id,
        after={"name": name, "role": role.value, "prefix": key.prefix},
    )
    return CreatedKey(key, secret)


async def list_keys(
    session: AsyncSession, *, tenant_id: uuid.UUID, include_revoked: bool
) -> Sequence[ApiKey]:
    stmt = sa.select(ApiKey).where(ApiKey.tenant_id == tenant_id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return (await session.scalars(stmt.order_by(ApiKey.created_at, ApiKey.id))).all()


async def get_key(session: AsyncSession, *, tenant_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    key = await session.scalar(
        sa.select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == tenant_id)
    )
    if key is None:
        raise NotFound(f"No API key {key_id}")
    return key


async def revoke_key(session: AsyncSession, *, key: ApiKey, actor: Actor) -> None:
    """Revoke a key; every worker refuses it once the change is announced."""
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    versioning.audit(
        session,
        actor=actor,
        action="api_key.revoke",
        tenant_id=key.tenant_id,
        object_type="api_key",
        object_id=key.id,
        before={"name": key.name, "role": key.role, "prefix": key.prefix},
    )
    snapshots.mark_auth_changed(session)


async def platform_key_count(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            sa.select(sa.func.count())
            .select_from(ApiKey)
            .where(ApiKey.tenant_id.is_(None), ApiKey.revoked_at.is_(None))
        )
        or 0
    )
