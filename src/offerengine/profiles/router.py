"""`/v1/profiles/{id}`: a profile's attributes and consent (run time), with the aggregates its
events built and the segments it is in."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import Path, Request, Response, status

from offerengine.context import AppContext
from offerengine.db.base import utcnow
from offerengine.db.session import write_transaction
from offerengine.http.body import documented, read_json
from offerengine.http.routing import router
from offerengine.profiles import service
from offerengine.profiles.schemas import ProfileIn, ProfileRead
from offerengine.snapshots.deps import BEARER, RuntimeSnapshot

runtime = router(tags=["run time"])

ProfileId = Annotated[str, Path(min_length=1, max_length=200, description="The profile's id.")]


def _ctx(request: Request) -> AppContext:
    return cast(AppContext, request.app.state.context)


@runtime.put(
    "/v1/profiles/{profile_id}",
    operation_id="putProfile",
    response_model=ProfileRead,
    openapi_extra={**documented(ProfileIn), **BEARER},
)
async def put_profile(profile_id: ProfileId, request: Request, snapshot: RuntimeSnapshot) -> Any:
    """Create the profile or replace its attributes and consent (its aggregates stay)."""
    body = await read_json(request, ProfileIn)
    ctx = _ctx(request)
    async with write_transaction(ctx) as session:
        row = await service.put(session, snapshot.tenant.id, profile_id, body)
        found = service.read(row, service.segments_of(snapshot.segments, row, utcnow()))
    ctx.profiles.forget(snapshot.tenant.id, {profile_id})
    return found


@runtime.get("/v1/profiles/{profile_id}", operation_id="getProfile", response_model=ProfileRead)
async def get_profile(profile_id: ProfileId, request: Request, snapshot: RuntimeSnapshot) -> Any:
    async with _ctx(request).session_factory() as session:
        row = await service.get(session, snapshot.tenant.id, profile_id)
    return service.read(row, service.segments_of(snapshot.segments, row, utcnow()))


@runtime.delete(
    "/v1/profiles/{profile_id}",
    operation_id="deleteProfile",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def delete_profile(
    profile_id: ProfileId, request: Request, snapshot: RuntimeSnapshot
) -> Response:
    """Forget the profile: attributes, consent, aggregates (its recorded events stay)."""
    ctx = _ctx(request)
    async with write_transaction(ctx) as session:
        await service.delete(session, snapshot.tenant.id, profile_id)
    ctx.profiles.forget(snapshot.tenant.id, {profile_id})
    return Response(status_code=status.HTTP_204_NO_CONTENT)
