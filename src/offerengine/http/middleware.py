"""One pure-ASGI middleware for what every request needs: a request id, a body-size limit, metrics
and an access log line. Pure ASGI (not ``BaseHTTPMiddleware``) because it sits on the hot path.

The body limit answers 413 at once when Content-Length is over it; a streamed body is cut off by
raising HTTPException(413) from ``receive``, which FastAPI's body reader passes on to the problem
handler (any other exception there would become a 400).

A path or query string holding NUL (``%00``), which the database cannot store, is answered 422
here, before any route sees it (:mod:`offerengine.text`): the one place every request passes.
Two substring tests clear ordinary requests; only a hit pays for naming the parameter."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offerengine import text
from offerengine.errors import Invalid
from offerengine.http import problems
from offerengine.http.problems import problem, route_of
from offerengine.observability.logging import get_logger
from offerengine.observability.metrics import Metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Bulk imports' files may be larger than other bodies (settings.import_max_bytes).
_IMPORT_PATH = re.compile(r"^/v1/admin/tenants/[^/]+/import(?:s|-jobs)/[^/]+$")
# On every response, run time's included: one constant tuple (the admin UI's pages get more,
# offerengine.web.headers).
EVERY_RESPONSE = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"))


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        max_body_bytes: int,
        access_log: bool,
        import_max_bytes: int | None = None,
        routes: Callable[[], Iterable[Any]] = tuple,
    ) -> None:
        self.app = app
        self.routes = routes
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.import_max_bytes = import_max_bytes or max_body_bytes
        self.access_log = access_log
        self.log = get_logger("offerengine.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = ""
        declared_length = -1
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _REQUEST_ID.match(candidate):
                    request_id = candidate
            elif name == b"content-length" and value.isdigit():
                declared_length = int(value)
        if not request_id:
            request_id = secrets.token_hex(16)  # as random as uuid4, a third of the cost
        structlog.contextvars.bind_contextvars(request_id=request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode("latin-1")
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", raw_id),
                    *EVERY_RESPONSE,
                ]
            await send(message)

        limit = self.max_body_bytes
        if _IMPORT_PATH.match(scope["path"]):  # a bulk import's file
            limit = self.import_max_bytes
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, self._too_large_detail(limit))
            return message

        try:
            if declared_length > limit:
                too_large = problem(413, self._too_large_detail(limit), code="payload-too-large")
                await too_large(scope, receive, send_wrapper)
            elif ("\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")) and (
                refused := _unstorable(scope, self.routes())
            ) is not None:
                await refused(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive_limited, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            template = route_of(scope)
            self.metrics.observe_request(scope["method"], template, status, elapsed)
            if self.access_log:
                self._log_access(scope, template, status, elapsed)
            structlog.contextvars.unbind_contextvars("request_id")

    def _too_large_detail(self, limit: int) -> str:
        return f"The request body is larger than the limit of {limit} bytes."

    def _log_access(self, scope: Scope, template: str, status: int, elapsed: float) -> None:
        # The route's template, never the path or the query string: those carry customers' ids
        # (/v1/profiles/{profile_id}); the template is the route's own, made once when declared.
        fields: dict[str, Any] = {
            "method": scope["method"],
            "route": template,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
        }
        principal = scope.get("state", {}).get("principal")
        if principal is not None:
            fields["key_id"] = str(principal.key_id) if principal.key_id else "platform-env"
            if principal.tenant_id:
                fields["tenant_id"] = str(principal.tenant_id)
        level = "error" if status >= 500 else "info"
        getattr(self.log, level)("request", **fields)


def _route_path(scope: Scope) -> str:
    """The path the routes match: without the root path the app is served under, if any."""
    path: str = scope["path"]
    root = scope.get("root_path")
    return path[len(root) :] if root and path.startswith(root) else path


def _unstorable(scope: Scope, routes: Iterable[Any]) -> Response | None:
    """The 422 for a path or query string holding NUL, naming the parameter; None if neither
    does (``%00`` may be the text of ``%2500``)."""
    path: str = scope["path"]
    try:
        text.check_path(path, _path_params(scope, routes) if "\x00" in path else None)
        text.check_query(scope.get("query_string", b""))
    except Invalid as exc:
        return problems.from_error(exc)
    return None


def _path_params(scope: Scope, routes: Iterable[Any]) -> dict[str, str]:
    """The path parameters of the first of ``routes`` that matches the path, if any."""
    route_path = _route_path(scope)
    for route in routes:
        regex: re.Pattern[str] | None = getattr(route, "path_regex", None)
        found = regex.match(route_path) if regex is not None else None
        if found is not None:
            return found.groupdict()
    return {}
