"""`POST /v1/events`: what units did, for experiments, capping, analytics and learning."""

from __future__ import annotations

from typing import cast

import msgspec
from fastapi import Request, Response, status

from offerengine.context import AppContext
from offerengine.db.base import utcnow
from offerengine.db.session import write_transaction
from offerengine.events import service
from offerengine.events.schemas import EventsAccepted
from offerengine.http.body import raw_body
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
    """Record one event, or `{"events": [...]}` (up to 1000), all or none. An event about a
    decision must name a decision that was made and an offer it proposed (else 422); feedback
    (impression, click, accept, decline) without a decision must name an existing offer. An
    `event_id` sent again is skipped (`duplicates`). Impressions, clicks and accepts count
    against the offer's caps on them as they arrive."""
    events = service.parse(await raw_body(request))
    ctx = cast(AppContext, request.app.state.context)
    sinks = service.EventSinks(
        session_factory=ctx.session_factory,
        transaction=lambda: write_transaction(ctx),
        redis=ctx.redis,
        redis_prefix=ctx.settings.redis_prefix,
        recorder=ctx.recorder,
        profiles=ctx.profiles,
    )
    found = await service.ingest(sinks=sinks, snapshot=snapshot, events=events, now=utcnow())
    return Response(
        msgspec.json.encode({"accepted": len(found.stored), "duplicates": found.duplicates}),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
    )
