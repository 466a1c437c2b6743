"""The physical floor of a run-time route here: a bare Starlette app with one msgspec endpoint.

    uvicorn --app-dir bench floor:app --workers 2 --loop uvloop --http httptools

``POST /floor`` decodes a decision-sized JSON body into a msgspec struct and answers a small JSON
document: no middleware, no authentication, no work. Benchmarks serve it with the settings
``offerengine serve`` uses (:func:`_http.floor_server`) and report run-time routes as a ratio to it
beside the ratio to the admin app's empty endpoint.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class Body(msgspec.Struct):
    """Any JSON object: its fields decoded, none checked."""

    profile_id: str | None = None
    activities: list[Any] = []
    context: dict[str, Any] = {}
    dry_run: bool = False


_decode = msgspec.json.Decoder(Body).decode
_encode = msgspec.json.Encoder().encode


async def floor(request: Request) -> Response:
    body = _decode(await request.body())
    return Response(_encode({"ok": True, "dry_run": body.dry_run}), media_type="application/json")


app = Starlette(routes=[Route("/floor", floor, methods=["POST"])])
