"""`POST /v1/events`: what units did, for experiments, capping, analytics and learning."""

from __future__ import annotations

from starlette.responses import Response

from offerengine.clock import utcnow
from offerengine.events import service
from offerengine.events.schemas import EventBatch, EventIn, EventsAccepted
from offerengine.http.runtime import Call, RuntimeRouter, respond

runtime = RuntimeRouter(tags=["run time"])


@runtime.post(
    "/v1/events",
    operation_id="recordEvents",
    status=202,
    body=EventIn | EventBatch,
    raw=True,
    response=EventsAccepted,
)
async def record_events(call: Call, body: bytes) -> Response:
    """Record one event, or `{"events": [...]}` (up to 1000), all or none. An event about a
    decision must name a decision that was made and an offer it proposed (else 422); feedback
    (impression, click, accept, decline) without a decision must name an existing offer. An
    `event_id` sent again is skipped (`duplicates`). Impressions, clicks and accepts count
    against the offer's caps on them as they arrive."""
    found = await service.record_events(call.context, call.snapshot, body, utcnow())
    return respond(found, status=202)
