"""RFC 9457 problem documents: the one mapping from errors to HTTP responses.

Every error response of the API is ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and, for validation errors, ``errors: [{loc, msg, type}]``. The mapping is by class, in one
table: not found → 404, conflict → 409, invalid → 422, forbidden → 403. Unknown exceptions are 500s
(and are logged); they are never turned into 4xx.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, cast

import msgspec
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from offerengine import errors, outages
from offerengine.fields import ProblemFieldError
from offerengine.observability.logging import get_logger
from offerengine.wording import plain

PROBLEM_MEDIA_TYPE = "application/problem+json"
UNMATCHED_ROUTE = "<unmatched>"  # what logs and metrics call a request no route took
TYPE_PREFIX = "urn:offerengine:problem:"

_STATUS: tuple[tuple[type[errors.OfferEngineError], int], ...] = (
    (errors.NotFound, 404),
    (errors.StaleVersion, 409),
    (errors.Conflict, 409),
    (errors.MalformedInput, 400),
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMedia, 415),
    (errors.Invalid, 422),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.Gone, 410),
    (errors.Unavailable, 503),
)

log = get_logger("offerengine.http")
_encoder = msgspec.json.Encoder()


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI identifying the problem type.")
    title: str
    status: int
    detail: str
    errors: list[ProblemFieldError] | None = None


def status_for(exc: errors.OfferEngineError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    title: str | None = None,
    errors_: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """Build a problem+json response."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code if code else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors_ is not None:
        body["errors"] = errors_
    body.update(extensions)
    return Response(
        _encoder.encode(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def from_error(exc: errors.OfferEngineError) -> Response:
    status = status_for(exc)
    headers = (
        {"WWW-Authenticate": "Bearer"}
        if status == 401
        else {"Retry-After": "1"}
        if status == 503  # a dependency is away: nothing was done; try again shortly
        else None
    )
    field_errors = (
        [e.as_dict() for e in exc.errors] if exc.errors or isinstance(exc, errors.Invalid) else None
    )
    return problem(
        status,
        exc.detail,
        code=exc.code,
        title=exc.title,
        errors_=field_errors,
        headers=headers,
        **exc.extensions,
    )


def _validation_errors(exc: RequestValidationError) -> tuple[int, str, list[dict[str, Any]]]:
    items: list[dict[str, Any]] = []
    malformed = False
    for err in exc.errors():
        loc = [part if isinstance(part, int) else str(part) for part in err.get("loc", ())]
        kind = str(err.get("type", "value_error"))
        malformed = malformed or kind == "json_invalid"
        items.append({"loc": loc, "msg": plain(err), "type": kind})
    if malformed:
        return 400, "The request body is not valid JSON.", items
    first = items[0] if items else None
    where = ".".join(str(p) for p in first["loc"]) if first else "request"
    more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    return 422, f"{where}: {first['msg'] if first else 'invalid'}{more}", items


async def _on_domain_error(_request: Request, exc: Exception) -> Response:
    return from_error(cast(errors.OfferEngineError, exc))


async def _on_request_validation(_request: Request, exc: Exception) -> Response:
    status, detail, items = _validation_errors(cast(RequestValidationError, exc))
    code = "malformed-json" if status == 400 else "validation"
    title = "Malformed JSON" if status == 400 else "Invalid input"
    return problem(status, detail, code=code, title=title, errors_=items)


async def on_http_exception(_request: Request, exc: Exception) -> Response:
    http_exc = cast(StarletteHTTPException, exc)
    status = http_exc.status_code
    detail = http_exc.detail if isinstance(http_exc.detail, str) else HTTPStatus(status).phrase
    code = "payload-too-large" if status == 413 else None
    if status == 404 and detail == "Not Found":
        # No route took the path: if one would but for a malformed id, that id is what is wrong.
        path_ids = getattr(_request.app.state, "path_ids", None)
        refused = path_ids.refusal(_request.method, _request.url.path) if path_ids else None
        if refused is not None:
            return from_error(refused)
        detail = "No such route."
    headers = dict(http_exc.headers or {})
    if status == 405:
        if detail == "Method Not Allowed":
            detail = "This route does not accept that method."
        # Starlette names only the first matching route's methods; the Allow header must name all.
        allowed = allowed_methods(_request.app, _request.url.path)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return problem(status, detail, code=code, headers=headers)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route accepts on ``path``, from the app's own routes and their regexes."""
    found: set[str] = set()
    for route in app.router.routes:
        regex = getattr(route, "path_regex", None)
        methods = getattr(route, "methods", None)
        if regex is not None and methods and regex.match(path):
            found |= set(methods)
    return sorted(found)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    return unexpected(request, exc)


def unexpected(request: Request, exc: Exception) -> Response:
    """The answer to an error nothing expected: a 500, logged; or, for SQLite's busy timeout and
    for a database or Redis that is away (:mod:`offerengine.outages`), a 503 to retry."""
    if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
        # SQLite's writers queue for the busy timeout; past it the server is overloaded, and
        # nothing was changed (the transaction never began): try again shortly.
        log.warning("database_busy", method=request.method, route=route_of(request.scope))
        return problem(
            503,
            "The database is busy with other writes; nothing was changed. Try again.",
            code="unavailable",
            headers={"Retry-After": "1"},
        )
    down = outages.dependency_down(exc)
    if down is not None:
        # A shared dependency is away: not the request's fault, and not a defect. The pool and
        # the Redis clients connect again by themselves; the client only has to retry.
        log.warning(
            "dependency_down",
            dependency=down,
            method=request.method,
            route=route_of(request.scope),
            error=type(exc).__name__,
        )
        return problem(
            503,
            f"The {down} is unavailable; try again shortly.",
            code="unavailable",
            title="Service unavailable",
            headers={"Retry-After": "1"},
            dependency=down,
        )
    # The route's template, not the path (customers' ids); the traceback is scrubbed of SQL
    # parameters as it is logged (offerengine.observability.redaction).
    log.error("unhandled_error", method=request.method, route=route_of(request.scope), exc_info=exc)
    return problem(500, "An unexpected error occurred; it has been logged.", code="internal")


def route_of(scope: Any) -> str:
    """The template of the route serving ``scope`` (``/v1/profiles/{profile_id}``): what logs
    name a request by, since its path may hold a customer's id."""
    return getattr(scope.get("route"), "path_format", None) or UNMATCHED_ROUTE


def install(app: FastAPI) -> None:
    """Register the problem handlers on ``app``."""
    app.add_exception_handler(errors.OfferEngineError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)
    # Registered by class, these are answered where the other handled errors are: Starlette
    # re-raises what reaches the catch-all ``Exception`` handler once it has answered, and the
    # server then closes the connection (a client's next request on it is reset).
    for outage in outages.OUTAGE_TYPES:
        app.add_exception_handler(outage, _on_unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problem statuses a route can answer."""
    content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {
        status: {"description": HTTPStatus(status).phrase, "content": content}
        for status in statuses
    }
