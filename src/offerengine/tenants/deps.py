"""Resolving ``{tenant}`` in admin paths, with tenant isolation applied."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from offerengine.auth.deps import CurrentPrincipal
from offerengine.deps import DbSession
from offerengine.errors import NotFound
from offerengine.tenants import service
from offerengine.tenants.models import Tenant

TenantRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The tenant's id or code.",
        examples=["OE"],
    ),
]


async def path_tenant(tenant: TenantRef, principal: CurrentPrincipal, session: DbSession) -> Tenant:
    """The tenant named in the path; 404 when it does not exist *or* is not the caller's."""
    found = await service.find(session, tenant)
    if found is None or not principal.sees_tenant(found.id):
        raise NotFound(f"No tenant {tenant!r}.")
    return found


PathTenant = Annotated[Tenant, Depends(path_tenant)]
