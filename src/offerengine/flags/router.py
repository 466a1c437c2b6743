"""Feature flags: admin configuration, run-time evaluation, and OpenFeature's OFREP."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Annotated, Any, cast

import msgspec
from fastapi import Depends, Path, Query, Request, Response, status

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor
from offerengine.auth.scoping import owned_loader
from offerengine.context import AppContext
from offerengine.db.base import utcnow
from offerengine.db.session import write_transaction
from offerengine.deps import DbSession
from offerengine.errors import NotFound
from offerengine.experiments import service as experiments
from offerengine.flags import core, service
from offerengine.flags.models import FeatureFlag
from offerengine.flags.schemas import (
    EvaluateRequest,
    EvaluationRead,
    FeatureFlagCreate,
    FeatureFlagRead,
    FeatureFlagUpdate,
)
from offerengine.http.body import documented, raw_body, read_json
from offerengine.http.routing import IfMatch, expected_version, router, set_etag
from offerengine.pagination import Page
from offerengine.snapshots.core import Snapshot
from offerengine.snapshots.deps import OfrepSnapshot, RuntimeSnapshot
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.router import add_version_routes

api = router(tags=["feature flags"])
PathFlag = Annotated[FeatureFlag, Depends(owned_loader(FeatureFlag, "feature flag"))]
TENANT_FLAGS = "/v1/admin/tenants/{tenant}/feature-flags"
FLAG = "/v1/admin/feature-flags/{id:uuid}"
FlagKey = Annotated[str, Path(max_length=64, description="The flag's key.")]


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

runtime = router(tags=["run time"], hot=True)
_encode = msgspec.json.Encoder().encode


def _flag(snapshot: Snapshot, key: str) -> core.Flag:
    flag = snapshot.flags.by_key.get(key)
    if flag is None:
        raise NotFound(f"No feature flag {key!r}.")
    return flag


async def evaluate_and_expose(
    request: Request, snapshot: Snapshot, flag: core.Flag, context: Mapping[str, Any], at: Any
) -> core.Evaluation:
    """Evaluate; when an experiment decided, record the unit's exposure (once) and keep the
    variant it was first given."""
    found = core.evaluate(
        flag,
        context,
        at=at,
        experiments_index=snapshot.experiments,
        saved_groups=snapshot.tenant.saved_groups,
    )
    assignment = found.assignment
    if assignment is None or not assignment.in_experiment:
        return found
    ctx = cast(AppContext, request.app.state.context)
    async with write_transaction(ctx) as session:
        variant, sticky = await experiments.expose(
            session, tenant_id=snapshot.tenant.id, assignment=assignment, at=at
        )
    if not sticky or variant.key == found.variant:
        return found
    has, value = flag.variant_value(variant.key)
    if not has:
        return found
    detail = f"{found.detail}; kept variant {variant.key!r} from the unit's first exposure"
    return core.Evaluation(
        found.key, value, "SPLIT", variant.key, found.rule_id, detail, found.version, assignment
    )


def _evaluation_json(found: core.Evaluation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": found.key,
        "value": found.value,
        "variant": found.variant,
        "reason": found.reason,
        "rule_id": found.rule_id,
        "detail": found.detail,
        "flag_version": found.version,
    }
    if found.assignment is not None:
        out["experiment"] = {
            "key": found.assignment.experiment.key,
            "variant": found.variant,
            "in_experiment": found.assignment.in_experiment,
        }
    return out


@runtime.get(
    "/v1/feature-flags/key/{key}",
    operation_id="getFeatureFlagByKey",
    response_model=FeatureFlagRead,
)
async def get_feature_flag_by_key(snapshot: RuntimeSnapshot, key: FlagKey) -> Response:
    """A flag's definition, by key, from the compiled snapshot (runtime key)."""
    return Response(_flag(snapshot, key).definition, media_type="application/json")


@runtime.post(
    "/v1/feature-flags/{key}/evaluate",
    operation_id="evaluateFeatureFlag",
    response_model=EvaluationRead,
    openapi_extra=documented(EvaluateRequest, required=False),
)
async def evaluate_feature_flag(
    request: Request, snapshot: RuntimeSnapshot, key: FlagKey
) -> Response:
    """Evaluate a flag for a context: `{key, value, variant, reason, rule_id, detail}`. The same
    unit always gets the same answer, in every worker; `detail` says why."""
    flag = _flag(snapshot, key)
    body = await read_json(request, EvaluateRequest, empty_ok=True)
    context = core.attributes_of(body.context.model_dump(exclude_none=True))
    found = await evaluate_and_expose(request, snapshot, flag, context, body.at or utcnow())
    return Response(_encode(_evaluation_json(found)), media_type="application/json")


# --- OpenFeature Remote Evaluation Protocol ------------------------------------------------------

ofrep = router(tags=["openfeature"], hot=True)
OFREP_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad evaluation request: `{key, errorCode, errorDetails}`."},
    404: {"description": "Flag not found: `{key, errorCode: FLAG_NOT_FOUND, errorDetails}`."},
}


def _ofrep_error(status_code: int, error: dict[str, Any]) -> Response:
    return Response(_encode(error), status_code=status_code, media_type="application/json")


def _ofrep_context(body: bytes, key: str | None) -> dict[str, Any] | Response:
    """The evaluation context of an OFREP request, or the OFREP error response."""
    where = {"key": key} if key is not None else {}
    if not body.strip():
        return {}
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return _ofrep_error(
            400, {**where, "errorCode": "PARSE_ERROR", "errorDetails": "the body is not JSON"}
        )
    if not isinstance(data, dict):
        return _ofrep_error(
            400, {**where, "errorCode": "PARSE_ERROR", "errorDetails": "the body is an object"}
        )
    context = data.get("context", {})
    if not isinstance(context, dict):
        return _ofrep_error(
            400,
            {**where, "errorCode": "INVALID_CONTEXT", "errorDetails": "context must be an object"},
        )
    return core.attributes_of(context)


def _ofrep_success(found: core.Evaluation) -> dict[str, Any]:
    metadata: dict[str, Any] = {"flagVersion": found.version, "detail": found.detail}
    if found.rule_id:
        metadata["ruleId"] = found.rule_id
    if found.assignment is not None:
        metadata["experimentKey"] = found.assignment.experiment.key
        metadata["inExperiment"] = found.assignment.in_experiment
    out: dict[str, Any] = {"key": found.key, "value": found.value, "reason": found.reason}
    if found.variant is not None:
        out["variant"] = found.variant
    out["metadata"] = metadata
    return out


@ofrep.post(
    "/ofrep/v1/evaluate/flags/{key}",
    operation_id="ofrepEvaluateFlag",
    responses=OFREP_RESPONSES,
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {"type": "object"}}},
            "required": False,
        }
    },
)
async def ofrep_evaluate_flag(
    request: Request, snapshot: OfrepSnapshot, key: Annotated[str, Path(max_length=200)]
) -> Response:
    """OFREP single flag evaluation (OpenFeature server providers)."""
    context = _ofrep_context(await raw_body(request), key)
    if isinstance(context, Response):
        return context
    flag = snapshot.flags.by_key.get(key)
    if flag is None:
        return _ofrep_error(
            404,
            {"key": key, "errorCode": "FLAG_NOT_FOUND", "errorDetails": f"no flag {key!r}"},
        )
    found = await evaluate_and_expose(request, snapshot, flag, context, utcnow())
    return Response(_encode(_ofrep_success(found)), media_type="application/json")


@ofrep.post(
    "/ofrep/v1/evaluate/flags",
    operation_id="ofrepEvaluateFlags",
    responses={
        **OFREP_RESPONSES,
        304: {"description": "Not modified: the If-None-Match ETag is current."},
    },
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {"type": "object"}}},
            "required": False,
        }
    },
)
async def ofrep_evaluate_flags(request: Request, snapshot: OfrepSnapshot) -> Response:
    """OFREP bulk evaluation of every flag for one context (OpenFeature client providers), with an
    ETag: send it back as If-None-Match and an unchanged answer is a 304. Bulk evaluation records
    no experiment exposure: fetching flags is not seeing them."""
    context = _ofrep_context(await raw_body(request), None)
    if isinstance(context, Response):
        return context
    at = utcnow()
    groups = snapshot.tenant.saved_groups
    flags = [
        _ofrep_success(
            core.evaluate(
                flag,
                context,
                at=at,
                experiments_index=snapshot.experiments,
                saved_groups=groups,
            )
        )
        for flag in snapshot.flags.by_key.values()
    ]
    body = _encode({"flags": flags})
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    wanted = request.headers.get("if-none-match")
    if wanted is not None and etag in (t.strip() for t in wanted.split(",")):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})


@ofrep.get("/ofrep/v1/configuration", operation_id="ofrepConfiguration")
async def ofrep_configuration(snapshot: OfrepSnapshot) -> Response:
    """What this OFREP server supports, for providers that ask."""
    del snapshot  # authenticated like the evaluations
    return Response(
        _encode(
            {
                "name": "OfferEngine",
                "capabilities": {
                    "cacheInvalidation": {
                        "polling": {"enabled": True, "minPollingIntervalMs": 1000}
                    },
                    "flagEvaluation": {
                        "supportedTypes": ["boolean", "string", "int", "float", "object"]
                    },
                },
            }
        ),
        media_type="application/json",
    )
