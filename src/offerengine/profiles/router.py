"""`/v1/profiles/{id}`: a profile's attributes and consent (run time), with the aggregates its
events built and the segments it is in."""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.responses import Response

from offerengine.clock import utcnow
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.profiles import service
from offerengine.profiles.schemas import ProfileIn, ProfileRead

runtime = RuntimeRouter(tags=["run time"])


class ProfilePath(BaseModel):
    profile_id: str = Field(min_length=1, max_length=200, description="The profile's id.")


@runtime.put(
    "/v1/profiles/{profile_id}",
    operation_id="putProfile",
    params=ProfilePath,
    body=ProfileIn,
    response=ProfileRead,
)
async def put_profile(call: Call, params: ProfilePath, body: ProfileIn) -> Response:
    """Create the profile or replace its attributes and consent (its aggregates stay)."""
    return respond(
        await service.put_profile(call.context, call.snapshot, params.profile_id, body, utcnow())
    )


@runtime.get(
    "/v1/profiles/{profile_id}", operation_id="getProfile", params=ProfilePath, response=ProfileRead
)
async def get_profile(call: Call, params: ProfilePath) -> Response:
    return respond(
        await service.get_profile(call.context, call.snapshot, params.profile_id, utcnow())
    )


@runtime.delete(
    "/v1/profiles/{profile_id}", operation_id="deleteProfile", params=ProfilePath, status=204
)
async def delete_profile(call: Call, params: ProfilePath) -> Response:
    """Forget the profile: attributes, consent, aggregates (its recorded events stay)."""
    await service.delete_profile(call.context, call.snapshot, params.profile_id)
    return Response(status_code=204)
