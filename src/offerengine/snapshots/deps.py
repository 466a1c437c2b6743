"""The one dependency of run-time endpoints: the caller's tenant snapshot.

Flat on purpose: FastAPI costs ~15-20 µs per dependency it solves, so the hot path authenticates,
checks the role and fetches the snapshot in plain calls inside one dependency (measured in
bench/catalog.py). Only the HTTPBearer declaration stays a sub-dependency, so the OpenAPI document
keeps the security scheme.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import Depends, Request

from offerengine.auth.core import Permission
from offerengine.auth.deps import (
    RUNTIME_NEEDS_TENANT,
    Credentials,
    api_key_header,
    check_permission,
    principal_of,
)
from offerengine.context import AppContext
from offerengine.errors import Forbidden
from offerengine.http.routing import check_query
from offerengine.snapshots.core import Snapshot


async def runtime_snapshot(request: Request, credentials: Credentials) -> Snapshot:
    """The compiled configuration of the caller's tenant: run time never queries configuration."""
    return await _snapshot(request, credentials.credentials if credentials else None)


async def _snapshot(request: Request, secret: str | None) -> Snapshot:
    check_query(request)
    ctx = cast(AppContext, request.app.state.context)
    principal = await principal_of(request, ctx, secret)
    check_permission(principal, Permission.RUNTIME)
    if principal.tenant_id is None:
        raise Forbidden(RUNTIME_NEEDS_TENANT)
    return await ctx.snapshots.get(principal.tenant_id)


RuntimeSnapshot = Annotated[Snapshot, Depends(runtime_snapshot)]


async def ofrep_snapshot(
    request: Request,
    credentials: Credentials,
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Snapshot:
    """:func:`runtime_snapshot` for OFREP routes, which also take the key as ``X-API-Key``."""
    return await _snapshot(request, credentials.credentials if credentials else api_key)


OfrepSnapshot = Annotated[Snapshot, Depends(ofrep_snapshot)]

# For a route that calls :func:`snapshot_of` itself: its OpenAPI entry still names the scheme.
BEARER: dict[str, Any] = {"security": [{"HTTPBearer": []}]}


async def snapshot_of(request: Request) -> Snapshot:
    """:func:`runtime_snapshot` without FastAPI's dependency machinery, which costs the hottest
    routes ~10 % of a request; they declare ``BEARER`` in their OpenAPI entry instead. The header
    is read as HTTPBearer(auto_error=False) reads it."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    return await _snapshot(request, token if scheme.lower() == "bearer" else None)
