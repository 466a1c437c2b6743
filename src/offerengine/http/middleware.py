"""One pure-ASGI middleware for what every request needs: a request id, metrics and an access log
line. Pure ASGI (not ``BaseHTTPMiddleware``) because it sits on the hot path. The body-size limit is
FastAPI's own (``max_body_size``); its 413 is rendered as a problem by ``offerengine.http.problems``."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offerengine.observability.logging import get_logger
from offerengine.observability.metrics import Metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED_ROUTE = "<unmatched>"


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, access_log: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.log = get_logger("offerengine.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _REQUEST_ID.match(candidate):
                    request_id = candidate
                break
        if not request_id:
            request_id = uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode("latin-1")
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", raw_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            self.metrics.observe_request(scope["method"], template, status, elapsed)
            if self.access_log:
                self._log_access(scope, template, status, elapsed)
            structlog.contextvars.unbind_contextvars("request_id")

    def _log_access(self, scope: Scope, template: str, status: int, elapsed: float) -> None:
        fields: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
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
