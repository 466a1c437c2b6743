"""Promotions: the definitions (admin, one versioned document), their usage, and
`POST /v1/promotions/recommend` (run time)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from starlette.responses import Response

from offerengine.auth.deps import ConfigReader, ConfigWriter
from offerengine.clock import utcnow
from offerengine.deps import DbSession
from offerengine.errors import NotFound
from offerengine.http.routing import router
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.promotions import service
from offerengine.promotions.schemas import RecommendRequest
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes

api = router(tags=["promotions"])
runtime = RuntimeRouter(tags=["run time"])
TENANT = "/v1/admin/tenants/{tenant}"


add_kind_routes(
    api,
    service.PROMOTIONS,
    docs=RouteDocs(
        get="The tenant's promotions; version 0: none saved yet.",
        update="Replace the promotions: discount, the margin it applies to, budget, "
        "per-customer limit, validity, products with their promotion stock, and the features "
        "its uplift model reads.",
    ),
)


@api.get(f"{TENANT}/promotions/usage", operation_id="promotionUsage")
async def promotion_usage(
    tenant: PathTenant, _: ConfigReader, session: DbSession
) -> list[dict[str, Any]]:
    """Each promotion's spent budget, grants per product, and its uplift model's metrics (Qini
    of the model and of random targeting on held-out customers)."""
    return await service.usage(session, tenant.id)


PromotionCode = Annotated[str, Path(min_length=1, max_length=50)]


@api.get(f"{TENANT}/promotions/{{code}}/models", operation_id="listUpliftModelVersions")
async def list_model_versions(
    tenant: PathTenant, code: PromotionCode, _: ConfigReader, session: DbSession
) -> list[dict[str, Any]]:
    """Every kept version of the promotion's uplift model, newest first, with its Qini on its
    held-out customers (and, for a retrained one, the Qini of the version serving before it),
    and which version serves."""
    found = await service.model_versions(session, tenant.id, code)
    if not found:
        raise NotFound(f"No uplift model of promotion {code!r}.")
    return found


@api.post(
    f"{TENANT}/promotions/{{code}}/models/{{version}}/serve", operation_id="serveUpliftModelVersion"
)
async def serve_model_version(
    tenant: PathTenant,
    code: PromotionCode,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    _: ConfigWriter,
    session: DbSession,
) -> list[dict[str, Any]]:
    """Serve this kept version of the promotion's uplift model from now on (a rollback, or
    choosing a retrained version after all); the versions as they are then."""
    await service.choose_version(session, tenant.id, code, version, "chosen by hand")
    return await service.model_versions(session, tenant.id, code)


@runtime.post("/v1/promotions/recommend", operation_id="recommendPromotions", body=RecommendRequest)
async def recommend(call: Call, body: RecommendRequest) -> Response:
    """Which promotion to give each customer, if any: only where its uplift model expects it to
    change behaviour enough to pay, within the request's budget, each promotion's remaining
    budget, its products' promotion stock (none on a product low in stock) and the per-customer
    limit. Each grant says its probabilities of buying with and without, its expected
    incremental margin and cost; the rest are counted by why they were left out. Recorded
    grants count against the budgets and stock, atomically; `dry_run` grants nothing."""
    return respond(await service.recommend_for(call.context, call.snapshot, body, utcnow()))
