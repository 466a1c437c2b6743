"""Recording events: the facts experiments, capping, analytics and learning are computed from."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.errors import FieldError, raise_if_any
from offerengine.events.models import Event
from offerengine.events.schemas import EventIn

# A client clock may run a little fast; an event much further in the future is a mistake.
CLOCK_SKEW = timedelta(minutes=5)


async def record(
    session: AsyncSession, *, tenant_id: uuid.UUID, events: Sequence[EventIn], now: datetime
) -> list[EventIn]:
    """Store the events, all or none; one in the future (beyond clock skew) is refused. An event
    whose ``event_id`` is already recorded (or earlier in the batch) is skipped: the events
    recorded now are returned."""
    errors = [
        FieldError(("body", "events", i, "occurred_at"), "is in the future")
        for i, e in enumerate(events)
        if e.occurred_at is not None and e.occurred_at > now + CLOCK_SKEW
    ]
    raise_if_any(errors)
    ids = {e.event_id for e in events if e.event_id is not None}
    seen: set[str] = set()
    if ids:
        seen = set(
            await session.scalars(
                sa.select(Event.event_id).where(
                    Event.tenant_id == tenant_id, Event.event_id.in_(ids)
                )
            )
        )
    fresh: list[EventIn] = []
    for event in events:
        if event.event_id is not None:
            if event.event_id in seen:
                continue
            seen.add(event.event_id)
        fresh.append(event)
    session.add_all(
        Event(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            type=e.type,
            event_id=e.event_id,
            activity_id=e.activity_id,
            profile_id=e.profile_id,
            customer_id=e.customer_id,
            session_id=e.session_id,
            value=e.value,
            currency=e.currency,
            occurred_at=e.occurred_at or now,
            received_at=now,
            decision_id=e.decision_id,
            offer_id=e.offer_id,
            properties=e.properties,
        )
        for e in fresh
    )
    return fresh
