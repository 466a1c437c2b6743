from __future__ import annotations

import asyncio
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from offerengine.auth.core import Permission
from offerengine.auth.deps import authenticate, bearer_scheme
from offerengine.db import migrate
from offerengine.deps import Ctx
from offerengine.errors import Forbidden
from offerengine.http import problems
from offerengine.http.routing import strict_query
from offerengine.recording import service as records

api = APIRouter(tags=["health"], dependencies=[Depends(strict_query)])

CHECK_TIMEOUT_SECONDS = 2.0


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
    checks: dict[str, str] = {}
    ready = True
    waiting = 0
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), ctx.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
            revision = await conn.run_sync(migrate.current_revision)
            if revision == migrate.head_revision():
                waiting = await records.count_waiting(conn)
        if revision == migrate.head_revision():
            checks["database"] = "ok"
            # A warning, not a failure: every other record is being stored.
            checks["records"] = (
                f"warning: {waiting} record(s) refused by the database wait in the dead letters "
                "(GET /v1/admin/tenants/{tenant}/dead-letters, or the admin UI's Dead letters)"
                if waiting
                else "ok"
            )
        else:
            ready = False
            checks["database"] = (
                f"schema at {revision or 'nothing'}, expected {migrate.head_revision()}: run `offerengine migrate`"
            )
    except Exception as exc:
        ready = False
        checks["database"] = f"unreachable: {type(exc).__name__}"
    if ctx.redis is None:
        checks["redis"] = "not configured"
    else:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await ctx.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            ready = False
            checks["redis"] = f"unreachable: {type(exc).__name__}"
    if not ready:
        return problems.problem(
            503,
            "Not ready: " + "; ".join(f"{k}: {v}" for k, v in checks.items()),
            code="not-ready",
            title="Not ready",
            checks=checks,
        )
    return Response(
        Readiness(status="ready", checks=checks).model_dump_json(), media_type="application/json"
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
