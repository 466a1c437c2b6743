"""Segments (admin): the definitions (one versioned document), fitting a learned segment, and
the segments' sizes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request

from offerengine.auth.deps import ConfigReader, ConfigWriter
from offerengine.deps import DbSession, context_of, release
from offerengine.http.routing import router
from offerengine.profiles import segments
from offerengine.profiles.segments import SEGMENTS
from offerengine.snapshots.service import mark_config_changed
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes

api = router(tags=["profiles"])
TENANT = "/v1/admin/tenants/{tenant}"
SegmentName = Annotated[str, Path(min_length=1, max_length=50, description="The segment's name.")]


add_kind_routes(
    api,
    SEGMENTS,
    docs=RouteDocs(
        get="The tenant's segment definitions; version 0: none saved yet.",
        update="Replace the segment definitions: rule-based (a condition over profile.*) or "
        "learned (k-means over profile features, fitted with `POST …/segments/{name}/learn`).",
    ),
)


async def _definitions(session: DbSession, tenant: Any) -> list[dict[str, Any]]:
    read = SEGMENTS.read(await SEGMENTS.get(session, tenant.id))
    return [s.model_dump(mode="json") for s in read.segments]


@api.post(f"{TENANT}/segments/{{name}}/learn", operation_id="learnSegment")
async def learn_segment(
    tenant: PathTenant, name: SegmentName, _: ConfigWriter, session: DbSession
) -> dict[str, Any]:
    """Fit the learned segment's clusters on the tenant's stored profiles (k-means on the
    standardised features, scikit-learn); decisions use the fit once it is made."""
    fitted = await segments.learn(session, tenant.id, await _definitions(session, tenant), name)
    mark_config_changed(session, tenant.id)
    return fitted


@api.get(f"{TENANT}/segments/sizes", operation_id="segmentSizes")
async def segment_sizes(
    tenant: PathTenant, request: Request, _: ConfigReader, session: DbSession
) -> dict[str, Any]:
    """Every segment with how many stored profiles are in it now (learned ones per cluster,
    with the cluster's centre in the features' units)."""
    ctx = context_of(request)
    await release(session)  # no connection held while the snapshot may be rebuilt
    snapshot = await ctx.snapshots.get(tenant.id)
    return await segments.sizes(
        session, tenant.id, snapshot.segments, await _definitions(session, tenant)
    )
