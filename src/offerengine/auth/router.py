from __future__ import annotations

import uuid

from fastapi import Query, Response, status

from offerengine.auth import key_limits, service
from offerengine.auth.core import Role
from offerengine.auth.deps import CurrentActor, KeyManager
from offerengine.auth.models import ApiKey
from offerengine.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyRead,
    ApiKeyUpdate,
)
from offerengine.deps import DbSession
from offerengine.http.routing import router
from offerengine.ratelimit import RateLimit
from offerengine.tenants.deps import PathTenant

api = router(prefix="/v1/admin/tenants/{tenant}/api-keys", tags=["api keys"])


@api.post("", status_code=status.HTTP_201_CREATED, operation_id="createApiKey")
async def create_api_key(
    tenant: PathTenant, body: ApiKeyCreate, _: KeyManager, actor: CurrentActor, session: DbSession
) -> ApiKeyCreated:
    """Create a key for the tenant; the response holds the secret, shown only this once."""
    created = await service.create_key(
        session, tenant_id=tenant.id, name=body.name, role=Role(body.role), actor=actor
    )
    if body.rate_limit is not None:
        await key_limits.set_rate_limit(
            session, tenant=tenant, key=created.key, rate_limit=body.rate_limit, actor=actor
        )
    read = _read(created.key, body.rate_limit)
    return ApiKeyCreated(**read.model_dump(), secret=created.secret)


@api.get("", operation_id="listApiKeys")
async def list_api_keys(
    tenant: PathTenant,
    _: KeyManager,
    session: DbSession,
    include_revoked: bool = Query(default=False, description="Also list revoked keys."),
) -> ApiKeyList:
    """The tenant's keys, without their secrets."""
    keys = await service.list_keys(session, tenant_id=tenant.id, include_revoked=include_revoked)
    limits = key_limits.rate_limits(tenant)
    return ApiKeyList(items=[_read(k, limits.get(str(k.id))) for k in keys])


@api.patch("/{key_id:uuid}", operation_id="updateApiKey")
async def update_api_key(
    tenant: PathTenant,
    key_id: uuid.UUID,
    body: ApiKeyUpdate,
    _: KeyManager,
    actor: CurrentActor,
    session: DbSession,
) -> ApiKeyRead:
    """Change a key's own rate limit on run time; every worker applies it within moments."""
    key = await service.get_key(session, tenant_id=tenant.id, key_id=key_id)
    await key_limits.set_rate_limit(
        session, tenant=tenant, key=key, rate_limit=body.rate_limit, actor=actor
    )
    return _read(key, body.rate_limit)


@api.delete("/{key_id:uuid}", status_code=status.HTTP_204_NO_CONTENT, operation_id="revokeApiKey")
async def revoke_api_key(
    tenant: PathTenant, key_id: uuid.UUID, _: KeyManager, actor: CurrentActor, session: DbSession
) -> Response:
    """Revoke a key: refused by every worker once this returns (see docs/operations.md)."""
    key = await service.get_key(session, tenant_id=tenant.id, key_id=key_id)
    await service.revoke_key(session, key=key, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _read(key: ApiKey, rate_limit: RateLimit | None) -> ApiKeyRead:
    read = ApiKeyRead.model_validate(key, from_attributes=True)
    return read.model_copy(update={"rate_limit": rate_limit})
