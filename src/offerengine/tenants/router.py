from __future__ import annotations

from fastapi import Response, status

from offerengine.auth.deps import ConfigReader, CurrentActor, PlatformCaller
from offerengine.deps import DbSession
from offerengine.http.routing import IfMatch, expected_version, router, set_etag
from offerengine.starters import service as starters
from offerengine.tenants import service
from offerengine.tenants.deps import PathTenant
from offerengine.tenants.schemas import TenantCreate, TenantRead, TenantUpdate

api = router(prefix="/v1/admin/tenants", tags=["tenants"])


@api.post("", status_code=status.HTTP_201_CREATED, operation_id="createTenant")
async def create_tenant(
    body: TenantCreate,
    _: PlatformCaller,
    actor: CurrentActor,
    session: DbSession,
    response: Response,
) -> TenantRead:
    """Create a tenant (platform key), with the `template_sets` named applied in the same
    transaction. Then give it an owner key: POST …/{tenant}/api-keys."""
    starters.check_names(
        body.template_sets,
        tenant_kind=body.kind,
        base_currency=body.base_currency,
        loc=("body", "template_sets"),
    )
    tenant = await service.create(session, data=body, actor=actor)
    for name in body.template_sets:
        await starters.apply(
            session, tenant=tenant, name=name, actor=actor, loc=("body", "template_sets")
        )
    set_etag(response, tenant.version)
    return TenantRead.model_validate(tenant, from_attributes=True)


@api.get("", operation_id="listTenants")
async def list_tenants(_: PlatformCaller, session: DbSession) -> list[TenantRead]:
    """Every tenant, by code (platform key)."""
    return [
        TenantRead.model_validate(t, from_attributes=True)
        for t in await service.list_tenants(session)
    ]


@api.get("/{tenant}", operation_id="getTenant")
async def get_tenant(tenant: PathTenant, _: ConfigReader, response: Response) -> TenantRead:
    """A tenant, by id or code: any tenant for a platform key, its own for a tenant key."""
    set_etag(response, tenant.version)
    return TenantRead.model_validate(tenant, from_attributes=True)


@api.put("/{tenant}", operation_id="updateTenant")
async def update_tenant(
    tenant: PathTenant,
    body: TenantUpdate,
    _: PlatformCaller,
    actor: CurrentActor,
    session: DbSession,
    if_match: IfMatch,
    response: Response,
) -> TenantRead:
    """Replace a tenant's fields (platform key). Suspending a tenant stops its keys at once."""
    updated = await service.update(
        session,
        tenant=tenant,
        data=body,
        actor=actor,
        expected_version=expected_version(if_match, body.version),
    )
    set_etag(response, updated.version)
    return TenantRead.model_validate(updated, from_attributes=True)


@api.delete("/{tenant}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteTenant")
async def delete_tenant(
    tenant: PathTenant, _: PlatformCaller, actor: CurrentActor, session: DbSession
) -> Response:
    """Delete a tenant and all its data (platform key). The audit log keeps the record."""
    await service.delete(session, tenant=tenant, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
