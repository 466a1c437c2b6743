"""Feature flags: admin configuration, run-time evaluation, and OpenFeature's OFREP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response, status
from pydantic import BaseModel, Field, field_validator

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor
from offerengine.auth.scoping import owned_loader
from offerengine.clock import utcnow
from offerengine.deps import DbSession
from offerengine.errors import OfferEngineError
from offerengine.flags import evaluating, service
from offerengine.flags.models import FeatureFlag
from offerengine.flags.schemas import (
    EvaluateRequest,
    EvaluationRead,
    FeatureFlagCreate,
    FeatureFlagRead,
    FeatureFlagUpdate,
)
from offerengine.http.routing import IfMatch, expected_version, router, set_etag
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.pagination import Page
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.router import add_version_routes

api = router(tags=["feature flags"])
PathFlag = Annotated[FeatureFlag, Depends(owned_loader(FeatureFlag, "feature flag"))]
TENANT_FLAGS = "/v1/admin/tenants/{tenant}/feature-flags"
FLAG = "/v1/admin/feature-flags/{id:uuid}"


@api.get(TENANT_FLAGS, operation_id="listFeatureFlags")
async def list_feature_flags(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    tag: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    enabled: Annotated[bool | None, Query()] = None,
) -> Page[FeatureFlagRead]:
    """The tenant's flags, by key."""
    rows = await service.list_flags(session, tenant_id=tenant.id, tag=tag, enabled=enabled)
    return Page[FeatureFlagRead](items=[FeatureFlagRead.of(f) for f in rows], next_cursor=None)


@api.post(TENANT_FLAGS, status_code=status.HTTP_201_CREATED, operation_id="createFeatureFlag")
async def create_feature_flag(
    tenant: PathTenant,
    body: FeatureFlagCreate,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    response: Response,
) -> FeatureFlagRead:
    """Create a flag (seed 002's shape). Values must fit its type; conditions are checked now."""
    flag = await service.create(session, tenant=tenant, data=body, actor=actor)
    set_etag(response, flag.version)
    return FeatureFlagRead.of(flag)


@api.get(FLAG, operation_id="getFeatureFlag")
async def get_feature_flag(flag: PathFlag, _: ConfigReader, response: Response) -> FeatureFlagRead:
    set_etag(response, flag.version)
    return FeatureFlagRead.of(flag)


@api.put(FLAG, operation_id="updateFeatureFlag")
async def update_feature_flag(
    flag: PathFlag,
    body: FeatureFlagUpdate,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
    if_match: IfMatch,
    response: Response,
) -> FeatureFlagRead:
    """Replace a flag's fields (If-Match or `version` guards against lost updates)."""
    updated = await service.update(
        session,
        flag=flag,
        data=body,
        actor=actor,
        expected_version=expected_version(if_match, body.version),
    )
    set_etag(response, updated.version)
    return FeatureFlagRead.of(updated)


@api.delete(FLAG, status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteFeatureFlag")
async def delete_feature_flag(
    flag: PathFlag, _: ConfigWriter, actor: CurrentActor, session: DbSession, if_match: IfMatch
) -> Response:
    """Delete a flag; evaluations then answer 404 (OFREP: FLAG_NOT_FOUND). A rollback restores it."""
    await service.delete(session, flag=flag, actor=actor, expected_version=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


add_version_routes(
    api,
    service.FEATURE_FLAG,
    path="/v1/admin/feature-flags",
    operation="FeatureFlag",
    read_model=FeatureFlagRead,
    to_read=FeatureFlagRead.of,
)


# --- run time ----------------------------------------------------------------------------------

runtime = RuntimeRouter(tags=["run time"])


class FlagPath(BaseModel):
    key: str = Field(max_length=64, description="The flag's key.")


@runtime.get(
    "/v1/feature-flags/key/{key}",
    operation_id="getFeatureFlagByKey",
    params=FlagPath,
    response=FeatureFlagRead,
)
async def get_feature_flag_by_key(call: Call, params: FlagPath) -> Response:
    """A flag's definition, by key, from the compiled snapshot (runtime key)."""
    return respond(evaluating.definition(call.snapshot, params.key))


@runtime.post(
    "/v1/feature-flags/{key}/evaluate",
    operation_id="evaluateFeatureFlag",
    params=FlagPath,
    body=EvaluateRequest,
    body_required=False,
    raw=True,  # validated by the use case once the flag is found: 404 before 422
    response=EvaluationRead,
)
async def evaluate_feature_flag(call: Call, params: FlagPath, body: bytes) -> Response:
    """Evaluate a flag for a context: `{key, value, variant, reason, rule_id, detail}`. The same
    unit always gets the same answer, in every worker; `detail` says why."""
    return respond(
        await evaluating.evaluate(call.context, call.snapshot, params.key, body, utcnow())
    )


# --- OpenFeature Remote Evaluation Protocol ------------------------------------------------------

ofrep = RuntimeRouter(tags=["openfeature"])
OFREP_RESPONSES: dict[int, dict[str, Any]] = {
    400: {"description": "Bad evaluation request: `{key, errorCode, errorDetails}`."},
    404: {"description": "Flag not found: `{key, errorCode: FLAG_NOT_FOUND, errorDetails}`."},
}
# OFREP's request body, read by the use case: `{context: {...}}`, or nothing.
OfrepBody = dict[str, Any]


def _ofrep_refusal(exc: OfferEngineError, request: Request) -> Response | None:
    """OFREP's answer to a refused request, for the run-time app (see Operation.refusal)."""
    refusal = evaluating.ofrep_refusal(exc, request.path_params.get("key"))
    return None if refusal is None else respond(refusal.body, refusal.status)


class OfrepFlagPath(BaseModel):
    key: str = Field(max_length=200)


class OfrepBulkHeaders(BaseModel):
    if_none_match: str | None = Field(
        default=None,
        alias="If-None-Match",
        description="The ETag of an earlier answer: 304 while it is current.",
    )


@ofrep.post(
    "/ofrep/v1/evaluate/flags/{key}",
    operation_id="ofrepEvaluateFlag",
    params=OfrepFlagPath,
    body=OfrepBody,
    body_required=False,
    raw=True,
    responses=OFREP_RESPONSES,
    auth="ofrep",
    refusal=_ofrep_refusal,
)
async def ofrep_evaluate_flag(call: Call, params: OfrepFlagPath, body: bytes) -> Response:
    """OFREP single flag evaluation (OpenFeature server providers)."""
    try:
        answer = await evaluating.ofrep_evaluate(
            call.context, call.snapshot, params.key, body, utcnow()
        )
    except evaluating.OfrepError as exc:
        return respond(exc.body, exc.status)
    return respond(answer)


class OfrepBulkQuery(BaseModel):
    """What OFREP's event streams tell a provider to send back when they announce a change. The
    engine pushes no events, and a saved change is served as soon as the save answers, so there
    is no stale cache to check them against: they are taken, checked for type, and change nothing."""

    flag_config_etag: str | None = Field(
        default=None,
        alias="flagConfigEtag",
        max_length=200,
        description="OFREP: the ETag a change event carried. Accepted; the answer is always current.",
    )
    flag_config_last_modified: str | None = Field(
        default=None,
        alias="flagConfigLastModified",
        max_length=100,
        description="OFREP: when a change event said the flags changed, in Unix seconds or as an "
        "ISO 8601 date-time with its offset. Accepted; the answer is always current.",
        json_schema_extra={"examples": ["1771622898", "2026-02-20T21:28:18Z"]},
    )

    @field_validator("flag_config_last_modified")
    @classmethod
    def _seconds_or_date_time(cls, text: str | None) -> str | None:
        if text is None or _unix_seconds(text) or _date_time(text):
            return text
        raise ValueError("expected Unix seconds (an integer, 0 or more) or an ISO 8601 date-time")


def _unix_seconds(text: str) -> bool:
    try:
        seconds = float(text)
    except ValueError:
        return False
    return seconds.is_integer() and seconds >= 0


def _date_time(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


@ofrep.post(
    "/ofrep/v1/evaluate/flags",
    operation_id="ofrepEvaluateFlags",
    query=OfrepBulkQuery,
    headers=OfrepBulkHeaders,
    body=OfrepBody,
    body_required=False,
    raw=True,
    responses={
        **OFREP_RESPONSES,
        304: {"description": "Not modified: the If-None-Match ETag is current."},
    },
    auth="ofrep",
    refusal=_ofrep_refusal,
)
async def ofrep_evaluate_flags(
    call: Call, query: OfrepBulkQuery, headers: OfrepBulkHeaders, body: bytes
) -> Response:
    """OFREP bulk evaluation of every flag for one context (OpenFeature client providers), with an
    ETag: send it back as If-None-Match and an unchanged answer is a 304. Bulk evaluation records
    no experiment exposure: fetching flags is not seeing them."""
    del query  # taken as OFREP asks; see OfrepBulkQuery
    try:
        bulk = evaluating.ofrep_evaluate_all(call.snapshot, body, headers.if_none_match, utcnow())
    except evaluating.OfrepError as exc:
        return respond(exc.body, exc.status)
    if bulk.body is None:
        return Response(status_code=304, headers={"ETag": bulk.etag})
    return respond(bulk.body, headers={"ETag": bulk.etag})


@ofrep.get("/ofrep/v1/configuration", operation_id="ofrepConfiguration", auth="ofrep")
async def ofrep_configuration(call: Call) -> Response:
    """What this OFREP server supports, for providers that ask."""
    del call  # authenticated like the evaluations
    return respond(evaluating.ofrep_configuration())
