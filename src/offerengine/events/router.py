"""`POST /v1/events`: what units did, for experiments, capping, analytics and learning."""

from __future__ import annotations

from typing import cast

import msgspec
from fastapi import Request, Response, status

from offerengine.context import AppContext
from offerengine.db.base import utcnow
from offerengine.decisioning import feedback, learning
from offerengine.deps import recording
from offerengine.errors import FieldError, MalformedInput
from offerengine.events import service
from offerengine.events.schemas import EventBatch, EventIn, EventsAccepted
from offerengine.http.body import raw_body, validate
from offerengine.http.routing import router
from offerengine.profiles import service as profiles
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
    now = utcnow()
    tenant_id = snapshot.tenant.id
    proposed: feedback.Proposals = {}
    if any(e.decision_id or e.type in feedback.FEEDBACK for e in events):
        async with ctx.session_factory() as session:
            proposed = await feedback.check(session, ctx.recorder, tenant_id, events)
    async with recording(ctx) as session:
        fresh = await service.record(session, tenant_id=tenant_id, events=events, now=now)
        await learning.count(
            session,
            tenant_id=tenant_id,
            index=snapshot.decisioning,
            events=fresh,
            proposed=proposed,
        )
        absorbed = await profiles.absorb(session, tenant_id, fresh, snapshot.decisioning, now=now)
        if ctx.redis is None:  # counted with the events, in their transaction
            await feedback.count(
                ctx, session, tenant_id=tenant_id, index=snapshot.decisioning, events=fresh, now=now
            )
    if absorbed:
        ctx.profiles.forget(tenant_id, absorbed)
    if ctx.redis is not None:  # counted once the events are stored
        await feedback.count(
            ctx, None, tenant_id=tenant_id, index=snapshot.decisioning, events=fresh, now=now
        )
    return Response(
        msgspec.json.encode({"accepted": len(fresh), "duplicates": len(events) - len(fresh)}),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
    )
