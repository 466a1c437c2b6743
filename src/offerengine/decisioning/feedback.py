"""What clients report about decisions (`POST /v1/events`): checked against the decisions that were
made, and counted against the offers' event caps as it arrives."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.decisioning import core
from offerengine.decisioning.counting import count_event, counter_key
from offerengine.decisioning.models import Decision, DecisioningObject
from offerengine.errors import FieldError, raise_if_any
from offerengine.events.schemas import EventIn
from offerengine.ids import uuid_age_seconds
from offerengine.recording import Recording, records
from offerengine.recording.writer import VISIBLE_WITHIN

# Feedback on a proposition: an offer it names must be one the engine can propose.
FEEDBACK = frozenset({"impression", "click", "accept", "decline"})
CAPPED = frozenset({"impression", "click", "accept"})


def _uuid(text: str | None) -> uuid.UUID | None:
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


Proposals = dict[uuid.UUID, dict[uuid.UUID | None, set[str]]]


async def _proposals(
    session: AsyncSession,
    recorder: Recording | None,
    tenant_id: uuid.UUID,
    decisions: set[uuid.UUID],
) -> Proposals:
    """What each decision proposed: offer → activities. Decisions are written behind the
    response, so one made moments ago may be in this worker's buffer (``recorder``; a process
    without one, such as a consumer, has none), or on its way from another worker's: a young
    decision not found yet is waited for (up to ``VISIBLE_WITHIN`` seconds)."""
    proposed: Proposals = {}

    def add(decision_id: uuid.UUID, propositions: list[dict[str, Any]]) -> None:
        offers = proposed.setdefault(decision_id, {})
        for item in propositions:
            offers.setdefault(_uuid(item["offer_id"]), set()).add(item["activity_id"])

    missing = set(decisions)
    deadline = time.monotonic() + VISIBLE_WITHIN
    while True:
        for decision_id in list(missing):
            pending = (await recorder.young(("decision", decision_id))) if recorder else None
            if isinstance(pending, records.Decision) and pending.tenant_id == tenant_id:
                add(decision_id, pending.propositions)
        missing -= proposed.keys()
        if missing:
            rows = await session.execute(
                sa.select(Decision.id, Decision.propositions).where(
                    Decision.tenant_id == tenant_id, Decision.id.in_(missing)
                )
            )
            for decision_id, propositions in rows:
                add(decision_id, propositions)
            await session.rollback()  # a fresh snapshot of the table on the next look
            missing -= proposed.keys()
        young = [d for d in missing if uuid_age_seconds(d) < VISIBLE_WITHIN]
        if not young or time.monotonic() > deadline:
            return proposed
        await asyncio.sleep(0.05)


async def check(
    session: AsyncSession,
    recorder: Recording | None,
    tenant_id: uuid.UUID,
    events: Sequence[EventIn],
) -> Proposals:
    """422 naming the field for an event about a decision that was not made, an offer that
    decision did not propose, or (feedback without a decision) an offer that does not exist.
    Run it before the write transaction: it may wait for a decision still being written. What
    the events' decisions proposed is returned (learning reads where each offer was shown)."""
    decisions = {e.decision_id for e in events if e.decision_id is not None}
    proposed = await _proposals(session, recorder, tenant_id, decisions) if decisions else {}
    loose = {
        _uuid(e.offer_id)
        for e in events
        if e.decision_id is None and e.type in FEEDBACK and e.offer_id is not None
    }
    known: set[uuid.UUID] = set()
    if loose - {None}:
        known = set(
            await session.scalars(
                sa.select(DecisioningObject.id).where(
                    DecisioningObject.tenant_id == tenant_id,
                    DecisioningObject.kind.in_(("offer", "fallback_offer")),
                    DecisioningObject.id.in_(loose - {None}),
                )
            )
        )
    errors: list[FieldError] = []
    for i, event in enumerate(events):
        where = ("body", "events", i)
        offer = _uuid(event.offer_id)
        if event.decision_id is not None:
            made = proposed.get(event.decision_id)
            if made is None:
                errors.append(
                    FieldError((*where, "decision_id"), f"no decision {event.decision_id}")
                )
            elif event.offer_id is not None and offer not in made:
                errors.append(
                    FieldError(
                        (*where, "offer_id"),
                        f"decision {event.decision_id} did not propose offer {event.offer_id}",
                    )
                )
            elif event.activity_id is not None and str(event.activity_id) not in made.get(
                offer, set().union(*made.values())
            ):
                errors.append(
                    FieldError(
                        (*where, "activity_id"),
                        f"decision {event.decision_id} made no proposition for activity "
                        f"{event.activity_id}",
                    )
                )
        elif event.type in FEEDBACK and event.offer_id is not None and offer not in known:
            errors.append(FieldError((*where, "offer_id"), f"no offer {event.offer_id}"))
    raise_if_any(errors)
    return proposed


async def count(
    redis: Redis | None,
    session: AsyncSession | None,
    *,
    prefix: str,
    tenant_id: uuid.UUID,
    index: core.DecisioningIndex,
    events: Sequence[EventIn],
    now: datetime,
) -> None:
    """Count each newly recorded impression, click or accept against the offer's caps on it
    (in ``session`` when the counters are in the database, else in ``redis``, under ``prefix``)."""
    for event in events:
        if event.type not in CAPPED:
            continue
        offer_id = _uuid(event.offer_id)
        offer = index.offers.get(offer_id) if offer_id is not None else None
        if offer is None:
            continue
        for cap in offer.caps:
            if cap.event != event.type or (cap.scope == "profile" and not event.profile_id):
                continue
            at = event.occurred_at or now
            key = counter_key(tenant_id, offer.id, cap, event.profile_id or "", at)
            await count_event(redis, prefix, session, key, cap, at)
