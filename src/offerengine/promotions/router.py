"""Promotions: the definitions (admin, one versioned document), their usage, and
`POST /v1/promotions/recommend` (run time)."""

from __future__ import annotations

from typing import Any, cast

import msgspec
from fastapi import Request, Response

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor
from offerengine.context import AppContext
from offerengine.db.base import utcnow
from offerengine.deps import DbSession, recording
from offerengine.http.body import documented, read_json
from offerengine.http.routing import IfMatch, expected_version, router, set_etag
from offerengine.promotions import service
from offerengine.promotions.schemas import PromotionsRead, PromotionsUpdate, RecommendRequest
from offerengine.snapshots.deps import BEARER, RuntimeSnapshot
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.router import add_version_routes

api = router(tags=["promotions"])
runtime = router(tags=["run time"])
TENANT = "/v1/admin/tenants/{tenant}"


@api.get(f"{TENANT}/promotions", operation_id="getPromotions")
async def get_promotions(
    tenant: PathTenant, _: ConfigReader, session: DbSession, response: Response
) -> PromotionsRead:
    found = service.PROMOTIONS.read(await service.PROMOTIONS.get(session, tenant.id))
    set_etag(response, found.version)
    return found


@api.put(f"{TENANT}/promotions", operation_id="putPromotions")
async def put_promotions(
    tenant: PathTenant,
    body: PromotionsUpdate,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    if_match: IfMatch,
    response: Response,
) -> PromotionsRead:
    """Replace the promotions: discount, the margin it applies to, budget, per-customer limit,
    validity, products with their promotion stock, and the features its uplift model reads."""
    doc = await service.PROMOTIONS.put(
        session,
        tenant_id=tenant.id,
        data=body,
        actor=actor,
        expected_version=expected_version(if_match, body.version),
    )
    set_etag(response, doc.version)
    return service.PROMOTIONS.read(doc)


@api.get(f"{TENANT}/promotions/usage", operation_id="promotionUsage")
async def promotion_usage(
    tenant: PathTenant, _: ConfigReader, session: DbSession
) -> list[dict[str, Any]]:
    """Each promotion's spent budget, grants per product, and its uplift model's metrics (Qini
    of the model and of random targeting on held-out customers)."""
    return await service.usage(session, tenant.id)


add_version_routes(
    api,
    service.PROMOTIONS.versioned,
    path="/v1/admin/promotions",
    operation="Promotions",
    read_model=PromotionsRead,
    to_read=service.PROMOTIONS.read,
)


@runtime.post(
    "/v1/promotions/recommend",
    operation_id="recommendPromotions",
    openapi_extra={**documented(RecommendRequest), **BEARER},
)
async def recommend(request: Request, snapshot: RuntimeSnapshot) -> Response:
    """Which promotion to give each customer, if any: only where its uplift model expects it to
    change behaviour enough to pay, within the request's budget, each promotion's remaining
    budget, its products' promotion stock (none on a product low in stock) and the per-customer
    limit. Each grant says its probabilities of buying with and without, its expected
    incremental margin and cost; the rest are counted by why they were left out. Recorded
    grants count against the budgets and stock, atomically; `dry_run` grants nothing."""
    body = await read_json(request, RecommendRequest)
    ctx = cast(AppContext, request.app.state.context)
    now = utcnow()
    if body.dry_run:
        async with ctx.session_factory() as session:
            found = await service.recommend(session, snapshot.tenant.id, body, now)
    else:
        async with recording(ctx) as session:
            found = await service.recommend(session, snapshot.tenant.id, body, now)
    return Response(msgspec.json.encode(found), media_type="application/json")
