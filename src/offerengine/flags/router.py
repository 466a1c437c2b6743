"""Feature flags: admin configuration (the generic routes of the kind declared in
:mod:`offerengine.flags.service`), run-time evaluation, and OpenFeature's OFREP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field, field_validator

from offerengine.clock import utcnow
from offerengine.errors import OfferEngineError
from offerengine.flags import evaluating, service
from offerengine.flags.schemas import EvaluateRequest, EvaluationRead, FeatureFlagRead
from offerengine.http.routing import router
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes

api = router(tags=["feature flags"])


def flag_filters(
    tag: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    enabled: Annotated[bool | None, Query()] = None,
) -> service.FlagFilter:
    return service.FlagFilter(tag=tag, enabled=enabled)


add_kind_routes(
    api,
    service.FEATURE_FLAG_KIND,
    filters=flag_filters,
    docs=RouteDocs(
        list="The tenant's flags, by key.",
        create="Create a flag (seed 002's shape). Values must fit its type; conditions are "
        "checked now.",
        update="Replace a flag's fields (If-Match or `version` guards against lost updates).",
        delete="Delete a flag; evaluations then answer 404 (OFREP: FLAG_NOT_FOUND). A rollback "
        "restores it.",
    ),
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
