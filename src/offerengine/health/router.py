from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from offerengine.auth.core import Permission
from offerengine.auth.deps import authenticate, bearer_scheme
from offerengine.deps import Ctx
from offerengine.errors import Forbidden
from offerengine.health import checks
from offerengine.http import problems
from offerengine.http.routing import strict_query

api = APIRouter(tags=["health"], dependencies=[Depends(strict_query)])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str]


@api.get("/healthz", operation_id="health")
async def health() -> Health:
    """The process is up (no dependency is checked)."""
    return Health(status="ok")


@api.get(
    "/readyz",
    operation_id="readiness",
    responses={200: {"model": Readiness}, **problems.responses(503)},
)
async def readiness(ctx: Ctx) -> Response:
    """The database answers and is migrated, and Redis answers when configured; else 503."""
    found = await checks.readiness(ctx)
    if not found.ready:
        return problems.problem(
            503,
            "Not ready: " + "; ".join(f"{k}: {v}" for k, v in found.checks.items()),
            code="not-ready",
            title="Not ready",
            checks=found.checks,
        )
    return Response(
        Readiness(status="ready", checks=found.checks).model_dump_json(),
        media_type="application/json",
    )


async def _metrics_access(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    if ctx.settings.metrics_public:
        return
    principal = await authenticate(request, ctx, credentials)
    if not principal.can(Permission.TENANTS_MANAGE):
        raise Forbidden("Metrics are for the platform key (or set OFFERENGINE_METRICS_PUBLIC).")


@api.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format.",
        },
        **problems.responses(401, 403),
    },
)
async def metrics(ctx: Ctx, _: Annotated[None, Depends(_metrics_access)]) -> Response:
    """Prometheus metrics (platform key, unless OFFERENGINE_METRICS_PUBLIC is set)."""
    return Response(ctx.metrics.render(), media_type=ctx.metrics.content_type)


# Benchmarks report HTTP throughput as a ratio to an endpoint that does nothing, served by the same
# app, middleware and workers in the same run. Only mounted with OFFERENGINE_BENCH_ENDPOINTS=true.
bench = APIRouter(tags=["health"], include_in_schema=False)
_EMPTY = b"{}"


@bench.get("/bench/empty")
@bench.post("/bench/empty")
async def empty(request: Request) -> Response:
    await request.body()
    return Response(_EMPTY, media_type="application/json")
