"""Bundle templates: CRUD with versions, and a preview of the offers a template makes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Response, status

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor
from offerengine.auth.scoping import owned_loader
from offerengine.bundles import service
from offerengine.bundles.models import BundleTemplate
from offerengine.bundles.schemas import BundleIn, BundleRead, BundleTest, BundleUpdate
from offerengine.db.base import utcnow
from offerengine.deps import Ctx, DbSession
from offerengine.http.routing import IfMatch, expected_version, router, set_etag
from offerengine.pagination import Page
from offerengine.shopping.schemas import SearchResponse
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.router import add_version_routes

api = router(tags=["bundles"])
PathBundle = Annotated[BundleTemplate, Depends(owned_loader(BundleTemplate, "bundle"))]
TENANT_BUNDLES = "/v1/admin/tenants/{tenant}/bundles"
BUNDLE = "/v1/admin/bundles/{id:uuid}"


@api.get(TENANT_BUNDLES, operation_id="listBundles")
async def list_bundles(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    active: Annotated[bool | None, Query()] = None,
) -> Page[BundleRead]:
    """The tenant's bundle templates, by priority."""
    rows = await service.list_bundles(session, tenant_id=tenant.id, active=active)
    return Page[BundleRead](items=[BundleRead.of(b) for b in rows], next_cursor=None)


@api.post(TENANT_BUNDLES, status_code=status.HTTP_201_CREATED, operation_id="createBundle")
async def create_bundle(
    tenant: PathTenant,
    body: BundleIn,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    response: Response,
) -> BundleRead:
    """Seed 001's bundle template: one required FLIGHT line (optionally a cabin) and the
    ancillaries, each required or optional, with a discount on the ancillaries."""
    bundle = await service.create(session, tenant=tenant, data=body, actor=actor)
    set_etag(response, bundle.version)
    return BundleRead.of(bundle)


@api.get(BUNDLE, operation_id="getBundle")
async def get_bundle(bundle: PathBundle, _: ConfigReader, response: Response) -> BundleRead:
    set_etag(response, bundle.version)
    return BundleRead.of(bundle)


@api.put(BUNDLE, operation_id="updateBundle")
async def update_bundle(
    bundle: PathBundle,
    body: BundleUpdate,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    if_match: IfMatch,
    response: Response,
) -> BundleRead:
    updated = await service.update(
        session,
        bundle=bundle,
        data=body,
        actor=actor,
        expected_version=expected_version(if_match, body.version),
    )
    set_etag(response, updated.version)
    return BundleRead.of(updated)


@api.delete(BUNDLE, status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteBundle")
async def delete_bundle(
    bundle: PathBundle, _: ConfigWriter, actor: CurrentActor, session: DbSession, if_match: IfMatch
) -> Response:
    """Delete a template; its history stays and a rollback brings it back."""
    await service.delete(session, bundle=bundle, actor=actor, expected_version=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@api.post(f"{BUNDLE}/test", operation_id="testBundle")
async def preview_bundle(
    bundle: PathBundle, body: BundleTest, _: ConfigReader, ctx: Ctx
) -> SearchResponse:
    """The offers this template would make for a search (even while inactive), priced now with
    the full trace, on every matching flight. Nothing is stored or held."""
    snapshot = await ctx.snapshots.get(bundle.tenant_id)
    searched = await ctx.shop.search(
        snapshot, body.search_params, body.at or utcnow(), preview=service.facts(bundle)
    )
    return SearchResponse.model_validate_json(searched.response())


add_version_routes(
    api,
    service.BUNDLE,
    path="/v1/admin/bundles",
    operation="Bundle",
    read_model=BundleRead,
    to_read=BundleRead.of,
)
