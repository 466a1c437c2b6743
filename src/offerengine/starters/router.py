"""The template library: the shipped sets, one in full, and applying one to a tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor
from offerengine.deps import DbSession
from offerengine.errors import Invalid, NotFound
from offerengine.http.routing import router
from offerengine.starters import library, service
from offerengine.starters.schemas import TemplateSetApplied, TemplateSetList, TemplateSetRead
from offerengine.tenants import service as tenants

api = router(prefix="/v1/admin/template-sets", tags=["template sets"])
SetRef = Annotated[str, Path(min_length=1, max_length=64, description="The set's name.")]


@api.get("", operation_id="listTemplateSets")
async def list_template_sets(_: ConfigReader) -> TemplateSetList:
    """The template sets shipped with the product: what each is for and what it holds."""
    return TemplateSetList(items=[library.summary(s) for s in library.template_sets().values()])


@api.get("/{template_set}", operation_id="getTemplateSet")
async def get_template_set(template_set: SetRef, _: ConfigReader) -> TemplateSetRead:
    """A template set in full: every product, bundle template and fare family set it applies."""
    return library.full(service.find(template_set))


@api.post("/{template_set}/apply", operation_id="applyTemplateSet")
async def apply_template_set(
    template_set: SetRef,
    principal: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    tenant: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="The tenant (id or code): a tenant key's own by default; a platform "
            "key names one.",
        ),
    ] = None,
) -> TemplateSetApplied:
    """Apply a set to the caller's tenant through each kind's import, all or nothing: products
    by code, bundles by name, fare family sets by cabin and route; created, updated or unchanged
    (applying twice changes nothing). A set for another tenant kind or priced in another
    currency than the tenant's is a 422 naming `template_set`."""
    service.find(template_set)  # an unknown set is a 404 before anything else
    if tenant is None:
        if principal.tenant_id is None:
            raise Invalid.field(("query", "tenant"), "a platform key names the tenant to apply to")
        found = await tenants.find(session, str(principal.tenant_id))
    else:
        found = await tenants.find(session, tenant)
        if found is not None and not principal.sees_tenant(found.id):
            found = None
    if found is None:
        raise NotFound(f"No tenant {tenant!r}.")
    return await service.apply(session, tenant=found, name=template_set, actor=actor)
