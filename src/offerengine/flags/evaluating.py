"""Evaluating feature flags at run time, the use cases: a flag's definition, its evaluation for a
context (recording the unit's exposure when an experiment decides it), and the answers of
OpenFeature's Remote Evaluation Protocol (OFREP), with OFREP's own error shape."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from offerengine.context import AppContext
from offerengine.db.session import write_transaction
from offerengine.errors import (
    Invalid,
    MalformedInput,
    NotFound,
    OfferEngineError,
    PayloadTooLarge,
    UnsupportedMedia,
)
from offerengine.experiments import service as experiments
from offerengine.flags import core
from offerengine.flags.schemas import EvaluateRequest
from offerengine.snapshots.core import Snapshot
from offerengine.validation import validate

_encode = msgspec.json.Encoder().encode


def _flag(snapshot: Snapshot, key: str) -> core.Flag:
    flag = snapshot.flags.by_key.get(key)
    if flag is None:
        raise NotFound(f"No feature flag {key!r}.")
    return flag


def definition(snapshot: Snapshot, key: str) -> bytes:
    """A flag's definition (JSON), by key, from the compiled snapshot; 404 if there is none."""
    return _flag(snapshot, key).definition


async def evaluate(
    ctx: AppContext, snapshot: Snapshot, key: str, body: bytes, now: datetime
) -> bytes:
    """A flag evaluated for the context of the JSON ``body`` (an :class:`EvaluateRequest`; empty
    is ``{}``): ``{key, value, variant, reason, rule_id, detail, flag_version}`` (JSON), and the
    experiment when one decided. An unknown flag is a 404 whatever the body: the body is validated
    (400, 422) only then."""
    flag = _flag(snapshot, key)
    request = validate(EvaluateRequest, body or b"{}")
    context = core.attributes_of(request.context.model_dump(exclude_none=True))
    found = await evaluate_and_expose(ctx, snapshot, flag, context, request.at or now)
    return _encode(_evaluation_json(found))


async def evaluate_and_expose(
    ctx: AppContext,
    snapshot: Snapshot,
    flag: core.Flag,
    context: Mapping[str, Any],
    at: datetime,
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


# --- OpenFeature Remote Evaluation Protocol ------------------------------------------------------


class OfrepError(Exception):
    """An OFREP error answer: its status and ``{key, errorCode, errorDetails}`` (OFREP's shape,
    not a problem document; ``key`` only for a single flag's evaluation)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body["errorDetails"])
        self.status = status
        self.body = body


def ofrep_refusal(exc: OfferEngineError, key: str | None) -> OfrepError | None:
    """A refused input in OFREP's shape: 400 and an error code (PARSE_ERROR for a body that is not
    JSON or UTF-8, INVALID_CONTEXT for text in the context the engine cannot keep, GENERAL for a
    bad parameter), as OFREP lists no 422. None for what is not the input's content (a key, a
    limit, the media type): the problem document."""
    if not isinstance(exc, Invalid) or isinstance(exc, PayloadTooLarge | UnsupportedMedia):
        return None
    if isinstance(exc, MalformedInput):
        code = "PARSE_ERROR"
    elif exc.errors and all(e.loc[:1] == ("body",) for e in exc.errors):
        code = "INVALID_CONTEXT"
    else:
        code = "GENERAL"
    where = {"key": key} if key is not None else {}
    return OfrepError(400, {**where, "errorCode": code, "errorDetails": exc.detail})


@dataclass(frozen=True, slots=True)
class Bulk:
    """A bulk evaluation's answer: its ETag, and its JSON, or None when the caller's
    If-None-Match already names that ETag (a 304)."""

    etag: str
    body: bytes | None


def _ofrep_context(body: bytes, key: str | None) -> dict[str, Any]:
    """The evaluation context of an OFREP request (an empty body is an empty context)."""
    where = {"key": key} if key is not None else {}
    if not body.strip():
        return {}
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise OfrepError(
            400, {**where, "errorCode": "PARSE_ERROR", "errorDetails": "the body is not JSON"}
        ) from None
    if not isinstance(data, dict):
        raise OfrepError(
            400, {**where, "errorCode": "PARSE_ERROR", "errorDetails": "the body is an object"}
        )
    context = data.get("context", {})
    if not isinstance(context, dict):
        raise OfrepError(
            400,
            {**where, "errorCode": "INVALID_CONTEXT", "errorDetails": "context must be an object"},
        )
    return core.attributes_of(context)


# OFREP's reasons are OpenFeature's, less DEFAULT and ERROR. Ours serve the default value when the
# flag's targeting leaves the unit out (a segment, a region, the time window, no unit id): that is
# a dynamic evaluation's answer, OpenFeature's TARGETING_MATCH, and `detail` still says why. An
# ERROR (a rule's experiment is gone) is no evaluation: OFREP's evaluation failure, GENERAL.
_OFREP_REASONS = {"DEFAULT": "TARGETING_MATCH"}


def ofrep_answer(found: core.Evaluation) -> dict[str, Any]:
    """One flag's OFREP answer: a success, or the failure when the evaluation erred."""
    if found.reason == "ERROR":
        return {"key": found.key, "errorCode": "GENERAL", "errorDetails": found.detail}
    metadata: dict[str, Any] = {"flagVersion": found.version, "detail": found.detail}
    if found.rule_id:
        metadata["ruleId"] = found.rule_id
    if found.assignment is not None:
        metadata["experimentKey"] = found.assignment.experiment.key
        metadata["inExperiment"] = found.assignment.in_experiment
    reason = _OFREP_REASONS.get(found.reason, found.reason)
    out: dict[str, Any] = {"key": found.key, "value": found.value, "reason": reason}
    if found.variant is not None:
        out["variant"] = found.variant
    out["metadata"] = metadata
    return out


async def ofrep_evaluate(
    ctx: AppContext, snapshot: Snapshot, key: str, body: bytes, now: datetime
) -> bytes:
    """OFREP's evaluation of one flag for the body's context (JSON), recording the unit's exposure
    when an experiment decides it. :class:`OfrepError` for a bad body (400), no such flag (404),
    or an evaluation that erred (400, GENERAL)."""
    context = _ofrep_context(body, key)
    flag = snapshot.flags.by_key.get(key)
    if flag is None:
        raise OfrepError(
            404, {"key": key, "errorCode": "FLAG_NOT_FOUND", "errorDetails": f"no flag {key!r}"}
        )
    answer = ofrep_answer(await evaluate_and_expose(ctx, snapshot, flag, context, now))
    if "errorCode" in answer:
        # OFREP's single evaluation has no other status for a failure that names its flag.
        raise OfrepError(400, answer)
    return _encode(answer)


def ofrep_evaluate_all(
    snapshot: Snapshot, body: bytes, if_none_match: str | None, now: datetime
) -> Bulk:
    """OFREP's evaluation of every flag for the body's context, with an ETag of the answer: when
    ``if_none_match`` names it, the answer is unchanged (no body). A flag whose evaluation erred
    is listed as OFREP's failure (GENERAL). Records no experiment exposure: fetching flags is not
    seeing them. :class:`OfrepError` for a bad body (400)."""
    context = _ofrep_context(body, None)
    groups = snapshot.tenant.saved_groups
    flags = [
        ofrep_answer(
            core.evaluate(
                flag, context, at=now, experiments_index=snapshot.experiments, saved_groups=groups
            )
        )
        for flag in snapshot.flags.by_key.values()
    ]
    answer = _encode({"flags": flags})
    etag = '"' + hashlib.blake2b(answer, digest_size=12).hexdigest() + '"'
    if if_none_match is not None and _matches(etag, if_none_match):
        return Bulk(etag, None)
    return Bulk(etag, answer)


def _matches(etag: str, if_none_match: str) -> bool:
    """Whether If-None-Match names the current answer (RFC 9110 13.1.2: ``*`` or any of the
    listed tags, compared weakly, so a ``W/`` a proxy added still matches)."""
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or etag in (t.removeprefix("W/") for t in tags)


_CONFIGURATION = _encode(
    {
        "name": "OfferEngine",
        "capabilities": {
            "cacheInvalidation": {"polling": {"enabled": True, "minPollingIntervalMs": 1000}},
            "flagEvaluation": {"supportedTypes": ["boolean", "string", "int", "float", "object"]},
        },
    }
)


def ofrep_configuration() -> bytes:
    """What this OFREP server supports (JSON), for providers that ask."""
    return _CONFIGURATION
