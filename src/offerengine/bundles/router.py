"""Bundle templates: the standard configuration routes (the kind is declared in
:mod:`offerengine.bundles.service`), and a preview of the offers a template makes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from offerengine.auth.deps import ConfigReader
from offerengine.bundles import service
from offerengine.bundles.models import BundleTemplate
from offerengine.bundles.schemas import BundleTest
from offerengine.clock import utcnow
from offerengine.deps import Ctx
from offerengine.http.routing import router
from offerengine.shopping.schemas import SearchResponse
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes, reader

api = router(tags=["bundles"])
# Read before the route, in a session of its own: a preview waits for the snapshot and searches.
ReadBundle = Annotated[BundleTemplate, Depends(reader(service.BUNDLE_KIND))]


def active_filter(active: Annotated[bool | None, Query()] = None) -> bool | None:
    return active


add_kind_routes(
    api,
    service.BUNDLE_KIND,
    filters=active_filter,
    docs=RouteDocs(
        list="The tenant's bundle templates, by priority.",
        create="Seed 001's bundle template: one required FLIGHT line (optionally a cabin) and the\n"
        "ancillaries, each required or optional, with a discount on the ancillaries.",
        delete="Delete a template; its history stays and a rollback brings it back.",
    ),
)


@api.post("/v1/admin/bundles/{id:uuid}/test", operation_id="testBundle")
async def preview_bundle(
    bundle: ReadBundle, body: BundleTest, _: ConfigReader, ctx: Ctx
) -> SearchResponse:
    """The offers this template would make for a search (even while inactive), priced now with
    the full trace, on every matching flight. Nothing is stored or held."""
    snapshot = await ctx.snapshots.get(bundle.tenant_id)
    searched = await ctx.shop.search(
        snapshot, body.search_params, body.at or utcnow(), preview=service.facts(bundle)
    )
    return SearchResponse.model_validate_json(searched.response())
