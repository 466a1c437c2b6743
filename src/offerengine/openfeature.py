"""An OpenFeature provider for OfferEngine flags.

Two ways to evaluate, one answer:

- **In process**: ``OfferEngineProvider.in_process(source)``, where ``source()`` returns the tenant's
  current compiled snapshot (inside the engine: ``lambda: ctx.snapshots.peek(tenant_id)``). It
  evaluates with ``offerengine.flags.core``, the code the API runs, without a network hop; it does
  not record experiment exposures (call the assign endpoint for those).
- **Remote**: ``OfferEngineProvider.remote(base_url, api_key)`` posts to the server's OFREP endpoint
  ``/ofrep/v1/evaluate/flags/{key}`` with a runtime key.

    from openfeature import api
    from offerengine.openfeature import OfferEngineProvider

    api.set_provider(OfferEngineProvider.remote("http://127.0.0.1:8000", "oek_..."))
    client = api.get_client()
    client.get_boolean_value("dynamic_pricing", False, EvaluationContext("u-42", {"segment": "vip"}))
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import (
    ErrorCode,
    FlagNotFoundError,
    GeneralError,
    InvalidContextError,
    ParseError,
    TypeMismatchError,
)
from openfeature.flag_evaluation import FlagResolutionDetails
from openfeature.provider import AbstractProvider, Metadata

from offerengine.flags import core
from offerengine.snapshots.core import Snapshot

__all__ = ["OfferEngineProvider", "Post"]

T = TypeVar("T")
# (url, JSON body, headers) → (status, response body); the default uses urllib.
Post = Callable[[str, bytes, Mapping[str, str]], tuple[int, bytes]]
Resolver = Callable[[str, dict[str, Any]], dict[str, Any]]


def _urllib_post(timeout: float) -> Post:
    def post(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(  # noqa: S310 (the URL is the configured server)
            url, data=body, headers=dict(headers), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())
        except (urllib.error.URLError, TimeoutError) as exc:
            raise GeneralError(f"OfferEngine is unreachable: {exc}") from exc

    return post


def context_of(evaluation_context: EvaluationContext | None) -> dict[str, Any]:
    """An OpenFeature context as OfferEngine reads it: the targeting key is ``targetingKey``
    (and ``user_id`` unless the attributes name one)."""
    if evaluation_context is None:
        return {}
    found: dict[str, Any] = dict(evaluation_context.attributes)
    if evaluation_context.targeting_key:
        found["targetingKey"] = evaluation_context.targeting_key
        found.setdefault("user_id", evaluation_context.targeting_key)
    return found


class OfferEngineProvider(AbstractProvider):
    """Resolve OpenFeature flags with OfferEngine, in process or over OFREP."""

    def __init__(self, resolve: Resolver, *, name: str) -> None:
        super().__init__()
        self._resolve = resolve
        self._name = name

    @classmethod
    def in_process(cls, source: Callable[[], Snapshot]) -> OfferEngineProvider:
        """Evaluate against the snapshot ``source()`` returns (called on every evaluation, so a
        newer snapshot is picked up at once)."""

        def resolve(key: str, context: dict[str, Any]) -> dict[str, Any]:
            snapshot = source()
            flag = snapshot.flags.by_key.get(key)
            if flag is None:
                raise FlagNotFoundError(f"no flag {key!r}")
            found = core.evaluate(
                flag,
                core.attributes_of(context),
                at=datetime.now(UTC),
                experiments_index=snapshot.experiments,
                saved_groups=snapshot.tenant.saved_groups,
            )
            return {
                "value": found.value,
                "reason": found.reason,
                "variant": found.variant,
                "metadata": {"flagVersion": found.version, "detail": found.detail},
            }

        return cls(resolve, name="OfferEngine (in process)")

    @classmethod
    def remote(
        cls, base_url: str, api_key: str, *, timeout: float = 2.0, post: Post | None = None
    ) -> OfferEngineProvider:
        """Evaluate on an OfferEngine server through OFREP with a runtime key."""
        send = post or _urllib_post(timeout)
        root = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

        def resolve(key: str, context: dict[str, Any]) -> dict[str, Any]:
            url = f"{root}/ofrep/v1/evaluate/flags/{urllib.parse.quote(key, safe='')}"
            status, body = send(url, json.dumps({"context": context}).encode(), headers)
            try:
                data = json.loads(body) if body else {}
            except ValueError as exc:
                raise ParseError(f"OfferEngine answered {status} with no JSON") from exc
            if status == 200:
                return dict(data)
            code = data.get("errorCode") if isinstance(data, dict) else None
            details = (data.get("errorDetails") if isinstance(data, dict) else None) or str(status)
            if code == "FLAG_NOT_FOUND" or status == 404:
                raise FlagNotFoundError(details)
            if code == "INVALID_CONTEXT":
                raise InvalidContextError(details)
            if code == "PARSE_ERROR":
                raise ParseError(details)
            raise GeneralError(f"OfferEngine answered {status}: {details}")

        return cls(resolve, name="OfferEngine (OFREP)")

    def get_metadata(self) -> Metadata:
        return Metadata(name=self._name)

    def _details(
        self,
        key: str,
        context: EvaluationContext | None,
        accept: Callable[[Any], bool],
        wanted: str,
        convert: Callable[[Any], T] | None = None,
    ) -> FlagResolutionDetails[T]:
        found = self._resolve(key, context_of(context))
        value = found.get("value")
        if not accept(value):
            raise TypeMismatchError(f"flag {key!r} serves {type(value).__name__}, not {wanted}")
        metadata = {
            k: v
            for k, v in (found.get("metadata") or {}).items()
            if isinstance(v, bool | int | float | str)
        }
        reason = found.get("reason")
        return FlagResolutionDetails(
            value=convert(value) if convert else cast(T, value),
            reason=reason,
            variant=found.get("variant"),
            flag_metadata=metadata,
            error_code=ErrorCode.GENERAL if reason == "ERROR" else None,
        )

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._details(
            flag_key, evaluation_context, lambda v: isinstance(v, bool), "a boolean"
        )

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._details(flag_key, evaluation_context, lambda v: isinstance(v, str), "a string")

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._details(
            flag_key,
            evaluation_context,
            lambda v: _number(v) and float(v).is_integer(),
            "an integer",
            int,
        )

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self._details(flag_key, evaluation_context, _number, "a number", float)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[Any] | Mapping[str, Any],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[Any] | Mapping[str, Any]]:
        return self._details(
            flag_key, evaluation_context, lambda v: isinstance(v, dict | list), "an object"
        )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
