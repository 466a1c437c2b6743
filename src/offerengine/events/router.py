"""`POST /v1/events`: what units did, for experiments, capping, analytics and learning."""

from __future__ import annotations

from typing import cast

import msgspec
from fastapi import Request, Response, status

from offerengine.context import AppContext
from offerengine.db.base import utcnow
from offerengine.deps import recording
from offerengine.errors import FieldError, MalformedInput
from offerengine.events import service
from offerengine.events.schemas import EventBatch, EventIn, EventsAccepted
from offerengine.http.body import raw_body, validate
from offerengine.http.routing import router
from offerengine.snapshots.deps import RuntimeSnapshot

runtime = router(tags=["run time"], hot=True)


@runtime.post(
    "/v1/events",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="recordEvents",
    response_model=EventsAccepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/EventIn"},
                            {"$ref": "#/components/schemas/EventBatch"},
                        ]
                    }
                }
            },
        }
    },
)
async def record_events(request: Request, snapshot: RuntimeSnapshot) -> Response:
    """Record one event, or `{"events": [...]}` (up to 1000), all or none."""
    body = await raw_body(request)
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedInput(
            "The request body is not valid JSON.",
            [FieldError(("body",), "not valid JSON", "json_invalid")],
        ) from exc
    if isinstance(data, dict) and "events" in data:
        events = validate(EventBatch, data).events
    else:
        events = [validate(EventIn, data)]
    ctx = cast(AppContext, request.app.state.context)
    async with recording(ctx) as session:
        count = await service.record(
            session, tenant_id=snapshot.tenant.id, events=events, now=utcnow()
        )
    return Response(
        msgspec.json.encode({"accepted": count}),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
    )
