"""Recording events: the facts experiments, capping, analytics and learning are computed from.

Events arrive by ``POST /v1/events`` and from brokers (``recording.ingest``); both go through
:func:`parse` and :func:`ingest`, so they are checked and counted alike:

1. Events about decisions are checked against what the decisions proposed (a read of its own,
   before the write transaction: it may wait for a decision still being written).
2. In one write transaction: the events whose ``event_id`` is new are stored, and only they add
   to the learning counts, the profiles' aggregates and (counters in the database) the caps'
   counts. An event delivered twice is stored and counted once (its profile's features too:
   :mod:`offerengine.profiles.features`).
3. After the commit: cached profiles are forgotten and (counters in Redis) the caps counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.db.session import write_transaction
from offerengine.decisioning import feedback, learning
from offerengine.errors import FieldError, Invalid, Loc, MalformedInput, raise_if_any
from offerengine.events.models import Event
from offerengine.events.schemas import EventBatch, EventIn, EventsAccepted
from offerengine.profiles import service as profiles
from offerengine.profiles.service import ProfileCache
from offerengine.recording import Recording
from offerengine.snapshots.core import Snapshot
from offerengine.wording import plain

if TYPE_CHECKING:
    from offerengine.context import AppContext

M = TypeVar("M", bound=BaseModel)

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


def parse(body: bytes, *, now: datetime | None = None) -> list[EventIn]:
    """The events of a JSON body: one event, or ``{"events": [...]}``. Broken JSON is
    :class:`MalformedInput`; an event the schemas refuse is :class:`Invalid` naming the field,
    and so, given ``now``, is one that happened in the future (beyond :data:`CLOCK_SKEW`),
    naming the field as the client sent it (``occurred_at``, or its alias ``at``)."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedInput(
            "The request body is not valid JSON.",
            [FieldError(("body",), "not valid JSON", "json_invalid")],
        ) from exc
    if isinstance(data, dict) and "events" in data:
        found = _validated(EventBatch, data).events
        where: list[Loc] = [("body", "events", i) for i in range(len(found))]
        sent = data["events"]
    else:
        found, where, sent = [_validated(EventIn, data)], [("body",)], [data]
    if now is not None:
        raise_if_any(
            [
                FieldError((*at, _time_key(given)), _future(event, now))
                for event, at, given in zip(found, where, sent, strict=True)
                if event.occurred_at is not None and event.occurred_at > now + CLOCK_SKEW
            ]
        )
    return found


def _time_key(given: Any) -> str:
    """The key an event's time came in: ``occurred_at``, or its alias ``at``."""
    return "at" if isinstance(given, dict) and "occurred_at" not in given else "occurred_at"


def _future(event: EventIn, now: datetime) -> str:
    assert event.occurred_at is not None
    return (
        f"is in the future ({event.occurred_at.isoformat()}, the server's clock reads "
        f"{now.isoformat(timespec='seconds')}; at most {int(CLOCK_SKEW.total_seconds() // 60)} "
        "minutes ahead are allowed for clock skew)"
    )


def _validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid.of(
            [
                FieldError(("body", *e["loc"]), plain(e), e["type"])
                for e in exc.errors(include_url=False)
            ]
        ) from exc


Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass(frozen=True, slots=True)
class EventSinks:
    """What storing events reads and writes besides the events table."""

    session_factory: async_sessionmaker[AsyncSession]  # the decisions' check reads through it
    transaction: Transaction  # the write transaction: committed on leaving, else rolled back
    redis: Redis | None  # the caps' counters when they live in Redis, else in the transaction
    redis_prefix: str
    recorder: Recording | None = None  # this process's decisions not written yet
    profiles: ProfileCache | None = None  # forgets the profiles the events changed


@dataclass(frozen=True, slots=True)
class StoredEvents:
    """The events stored now, and how many were skipped as already stored."""

    stored: list[EventIn]
    duplicates: int


async def ingest(
    *, sinks: EventSinks, snapshot: Snapshot, events: Sequence[EventIn], now: datetime
) -> StoredEvents:
    """Store the tenant's events, all or none, and count the new ones wherever events count (see
    the module's doc). An event about a decision that was not made, or one in the future, is
    :class:`Invalid` and nothing is stored."""
    tenant_id = snapshot.tenant.id
    index = snapshot.decisioning
    proposed: feedback.Proposals = {}
    if any(e.decision_id or e.type in feedback.FEEDBACK for e in events):
        async with sinks.session_factory() as session:
            proposed = await feedback.check(session, sinks.recorder, tenant_id, events)
    async with sinks.transaction() as session:
        fresh = await record(session, tenant_id=tenant_id, events=events, now=now)
        await learning.count(
            session, tenant_id=tenant_id, index=index, events=fresh, proposed=proposed
        )
        absorbed = await profiles.absorb(
            session, tenant_id, fresh, index, now=now, currency=snapshot.tenant.base_currency
        )
        if sinks.redis is None:  # counted with the events, in their transaction
            await feedback.count(
                None,
                session,
                prefix=sinks.redis_prefix,
                tenant_id=tenant_id,
                index=index,
                events=fresh,
                now=now,
            )
    if absorbed and sinks.profiles is not None:
        sinks.profiles.forget(tenant_id, absorbed)
    if sinks.redis is not None:  # counted once the events are stored
        await feedback.count(
            sinks.redis,
            None,
            prefix=sinks.redis_prefix,
            tenant_id=tenant_id,
            index=index,
            events=fresh,
            now=now,
        )
    return StoredEvents(fresh, len(events) - len(fresh))


async def record_events(
    ctx: AppContext, snapshot: Snapshot, body: bytes, now: datetime
) -> EventsAccepted:
    """``POST /v1/events``, the use case: the events of the request's body (checked for
    unstorable text; see :func:`parse`) ingested into this app's sinks (see :func:`ingest`)."""
    events = parse(body, now=now)
    sinks = EventSinks(
        session_factory=ctx.session_factory,
        transaction=lambda: write_transaction(ctx),
        redis=ctx.redis,
        redis_prefix=ctx.settings.redis_prefix,
        recorder=ctx.recorder,
        profiles=ctx.profiles,
    )
    found = await ingest(sinks=sinks, snapshot=snapshot, events=events, now=now)
    return EventsAccepted(accepted=len(found.stored), duplicates=found.duplicates)
