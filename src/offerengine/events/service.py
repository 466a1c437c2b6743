"""Recording events: the facts experiments, capping, analytics and learning are computed from."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.errors import FieldError, raise_if_any
from offerengine.events.models import Event
from offerengine.events.schemas import EventIn

# A client clock may run a little fast; an event much further in the future is a mistake.
CLOCK_SKEW = timedelta(minutes=5)


async def record(
    session: AsyncSession, *, tenant_id: uuid.UUID, events: Sequence[EventIn], now: datetime
) -> int:
    """Store the events, all or none; one in the future (beyond clock skew) is refused."""
    errors = [
        FieldError(("body", "events", i, "occurred_at"), "is in the future")
        for i, e in enumerate(events)
        if e.occurred_at is not None and e.occurred_at > now + CLOCK_SKEW
    ]
    raise_if_any(errors)
    session.add_all(
        Event(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            type=e.type,
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
        for e in events
    )
    return len(events)
