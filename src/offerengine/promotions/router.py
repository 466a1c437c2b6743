"""Promotions: the definitions (admin, one versioned document), their usage, and
`POST /v1/promotions/recommend` (run time)."""

from __future__ import annotations

from typing import Any, cast

import msgspec
from fastapi import Request, Response

from offerengine.auth.deps import ConfigReader
from offerengine.context import AppContext
from offerengine.db.base import utcnow
from offerengine.db.session import write_transaction
from offerengine.deps import DbSession
from offerengine.http.body import documented, read_json
from offerengine.http.routing import router
from offerengine.promotions import service
from offerengine.promotions.schemas import PromotionsRead, PromotionsUpdate, RecommendRequest
from offerengine.snapshots.deps import BEARER, RuntimeSnapshot
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.router import add_document_routes

api = router(tags=["promotions"])
runtime = router(tags=["run time"])
TENANT = "/v1/admin/tenants/{tenant}"


add_document_routes(
    api,
    service.PROMOTIONS,
    slug="promotions",
    operation="Promotions",
    title="Promotions",
    read_model=PromotionsRead,
    update_model=PromotionsUpdate,
    get_description="The tenant's promotions; version 0: none saved yet.",
    put_description="Replace the promotions: discount, the margin it applies to, budget, "
    "per-customer limit, validity, products with their promotion stock, and the features its "
    "uplift model reads.",
)


@api.get(f"{TENANT}/promotions/usage", operation_id="promotionUsage")
async def promotion_usage(
    tenant: PathTenant, _: ConfigReader, session: DbSession
) -> list[dict[str, Any]]:
    """Each promotion's spent budget, grants per product, and its uplift model's metrics (Qini
    of the model and of random targeting on held-out customers)."""
    return await service.usage(session, tenant.id)


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
            found = await service.recommend(
                session, snapshot.tenant.id, snapshot.promotions, body, now
            )
    else:
        async with ctx.session_factory() as session:  # outside the write lock
            await service.load_models(session, snapshot.promotions)
        async with write_transaction(ctx) as session:
            found = await service.recommend(
                session, snapshot.tenant.id, snapshot.promotions, body, now
            )
    return Response(msgspec.json.encode(found), media_type="application/json")
