"""Profiles: attributes and consent set by the API, behavioural aggregates kept from events, and
what a decision reads of them as ``profile.*`` facts.

Aggregates are updated in the events' own transaction, the profile's row locked while it is
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's writers are serialised), so concurrent batches
for one profile add up. Decisions read a profile through a worker's short cache
(:class:`ProfileCache`): its aggregates may be up to ``CACHE_SECONDS`` old, never its consent
after it was changed through this worker.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.db import upsert
from offerengine.db.base import utcnow
from offerengine.db.session import write_transaction
from offerengine.decisioning import core
from offerengine.errors import FieldError, NotFound, raise_if_any
from offerengine.events.models import Event
from offerengine.events.schemas import EventIn
from offerengine.profiles import features
from offerengine.profiles.core import SegmentIndex, members, profile_facts
from offerengine.profiles.features import Happened
from offerengine.profiles.models import Profile
from offerengine.profiles.schemas import RESERVED, ProfileIn, ProfileRead
from offerengine.rules import core as rules
from offerengine.snapshots.core import Snapshot

if TYPE_CHECKING:
    from offerengine.context import AppContext

# Event types and the aggregate each adds to.
COUNTED = {
    "impression": "views",
    "view": "views",
    "click": "clicks",
    "accept": "accepts",
    "purchase": "purchases",
}
TOTALS = ("views", "clicks", "accepts", "purchases")
PARTS = frozenset({"aggregates", "features"})  # what absorbing events adds to
CACHE_SECONDS = 2.0
CACHE_SIZE = 50_000


async def put(
    session: AsyncSession, tenant_id: uuid.UUID, profile_id: str, data: ProfileIn
) -> Profile:
    """Create the profile or replace its attributes and consent; its aggregates stay."""
    raise_if_any(
        [
            FieldError(("body", "attributes", name), "is a name the aggregates use")
            for name in data.attributes
            if name in RESERVED
        ]
    )
    found = await session.get(Profile, (tenant_id, profile_id))
    if found is None:
        found = Profile(
            tenant_id=tenant_id,
            profile_id=profile_id,
            attributes=data.attributes,
            consent=data.consent,
            aggregates={},
        )
        session.add(found)
    else:
        found.attributes = data.attributes
        found.consent = data.consent
        found.updated_at = utcnow()
    await session.flush()
    return found


async def get(session: AsyncSession, tenant_id: uuid.UUID, profile_id: str) -> Profile:
    found = await session.get(Profile, (tenant_id, profile_id))
    if found is None:
        raise NotFound(f"No profile {profile_id!r}.")
    return found


async def delete(session: AsyncSession, tenant_id: uuid.UUID, profile_id: str) -> None:
    """Forget the profile: attributes, consent and aggregates (its events stay, as recorded)."""
    found = await get(session, tenant_id, profile_id)
    await session.delete(found)


# --- the run-time use cases (`/v1/profiles/{id}`) ------------------------------------------------


async def put_profile(
    ctx: AppContext, snapshot: Snapshot, profile_id: str, data: ProfileIn, now: datetime
) -> ProfileRead:
    """Create the profile or replace its attributes and consent (see :func:`put`), in a write
    transaction of its own; this worker's cache forgets it."""
    async with write_transaction(ctx) as session:
        row = await put(session, snapshot.tenant.id, profile_id, data)
        found = ProfileRead.model_validate(read(row, segments_of(snapshot.segments, row, now), now))
    ctx.profiles.forget(snapshot.tenant.id, {profile_id})
    return found


async def get_profile(
    ctx: AppContext, snapshot: Snapshot, profile_id: str, now: datetime
) -> ProfileRead:
    """The stored profile as the API shows it, with the segments it is in ``now`` (404 if none)."""
    async with ctx.session_factory() as session:
        row = await get(session, snapshot.tenant.id, profile_id)
    return ProfileRead.model_validate(read(row, segments_of(snapshot.segments, row, now), now))


async def delete_profile(ctx: AppContext, snapshot: Snapshot, profile_id: str) -> None:
    """Forget the profile (see :func:`delete`; 404 if none), in a write transaction of its own;
    this worker's cache forgets it too."""
    async with write_transaction(ctx) as session:
        await delete(session, snapshot.tenant.id, profile_id)
    ctx.profiles.forget(snapshot.tenant.id, {profile_id})


def _category(event: EventIn, index: core.DecisioningIndex) -> str | None:
    given = event.properties.get("category")
    if isinstance(given, str) and given:
        return given[:100]
    if event.offer_id is None:
        return None
    try:
        offer = index.offers.get(uuid.UUID(event.offer_id))
    except ValueError:
        return None
    found = offer.facts.get("offer.attributes.category") if offer is not None else None
    return str(found)[:100] if found is not None else None


def _add(bucket: dict[str, Any], event: EventIn, at: datetime) -> None:
    name = COUNTED[event.type]
    bucket[name] = int(bucket.get(name, 0)) + 1
    if event.type == "purchase" and event.value is not None:
        bucket["spend"] = float(Decimal(str(bucket.get("spend", 0))) + event.value)
    last = bucket.get("last_at")
    stamp = at.astimezone(UTC).isoformat()  # one offset, so that the texts compare as times
    if last is None or stamp > last:
        bucket["last_at"] = stamp


def _happened(event: EventIn, at: datetime, category: str | None, currency: str) -> Happened:
    return Happened(
        type=event.type,
        at=at,
        session_id=event.session_id,
        category=category,
        value=features.counted_value(event.value, event.currency, currency),
        quantity=features.quantity_of(event.properties),
    )


async def absorb(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    events: Sequence[EventIn],
    index: core.DecisioningIndex,
    *,
    now: datetime,
    currency: str,
    parts: frozenset[str] = PARTS,
) -> set[str]:
    """Add the events to their profiles' aggregates and features (``parts`` of them; a profile
    is made on its first event), the profiles' rows locked; the profiles changed. ``currency``
    is the tenant's: the purchases' values the features sum are in it."""
    wanted = (COUNTED.keys() if "aggregates" in parts else set()) | (
        features.COUNTED if "features" in parts else set()
    )
    by_profile: dict[str, list[EventIn]] = {}
    for event in events:
        if event.profile_id and event.type in wanted:
            by_profile.setdefault(event.profile_id, []).append(event)
    if not by_profile:
        return set()
    ids = sorted(by_profile)  # one lock order for every writer
    await session.execute(
        upsert.insert(session, Profile)
        .values(
            [
                {
                    "tenant_id": tenant_id,
                    "profile_id": p,
                    "attributes": {},
                    "consent": {},
                    "aggregates": {},
                    "features": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for p in ids
            ]
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "profile_id"])
    )
    rows = await session.scalars(
        sa.select(Profile)
        .where(Profile.tenant_id == tenant_id, Profile.profile_id.in_(ids))
        .order_by(Profile.profile_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    today = now.astimezone(UTC).date()
    for row in rows:
        found = by_profile[row.profile_id]
        if "aggregates" in parts:
            _add_aggregates(row, [e for e in found if e.type in COUNTED], index, now)
        if "features" in parts:
            state = copy.deepcopy(row.features or {})
            features.add_all(
                state,
                (
                    _happened(e, e.occurred_at or now, _category(e, index), currency)
                    for e in found
                    if e.type in features.COUNTED
                ),
                today=today,
            )
            row.features = state
        row.updated_at = now
    return set(ids)


def _add_aggregates(
    row: Profile, events: Sequence[EventIn], index: core.DecisioningIndex, now: datetime
) -> None:
    aggregates = {k: (dict(v) if isinstance(v, dict) else v) for k, v in row.aggregates.items()}
    categories = {k: dict(v) for k, v in aggregates.get("categories", {}).items()}
    latest = row.last_seen_at
    for event in events:
        at = event.occurred_at or now
        _add(aggregates, event, at)
        category = _category(event, index)
        if category is not None:
            _add(categories.setdefault(category, {}), event, at)
        if latest is None or at > latest:
            latest = at
    aggregates.pop("last_at", None)
    if categories:
        aggregates["categories"] = categories
    row.aggregates = aggregates
    row.last_seen_at = latest


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """What a replay went through: the tenant's profiles, and the events added to them."""

    profiles: int
    events: int


async def replay(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    index: core.DecisioningIndex,
    *,
    now: datetime,
    currency: str,
    parts: frozenset[str] = PARTS,
    batch: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> Rebuilt:
    """Rebuild the tenant's profiles' aggregates and features (``parts`` of them) from its
    stored events, in the caller's transaction: wipe them, then absorb every stored event of
    those profiles in time order, a ``batch`` at a time (``progress(done, total)`` after each).
    Running it again gives the same, and so does the incremental path (see
    :mod:`offerengine.profiles.features`).

    Only profiles that exist are rebuilt: one forgotten (deleted) stays forgotten, though its
    events stay. The rows are locked from the wipe on, so events stored meanwhile for them wait
    and add to the rebuilt aggregates; those of a profile made meanwhile are left to the
    transaction that made it. A category comes from the offers as configured now."""
    wipe: dict[str, Any] = {"updated_at": now}
    types: set[str] = set()
    if "aggregates" in parts:
        wipe.update(aggregates={}, last_seen_at=None)
        types.update(COUNTED)
    if "features" in parts:
        wipe.update(features={})
        types.update(features.COUNTED)
    wiped = await session.scalars(
        sa.update(Profile)
        .where(Profile.tenant_id == tenant_id)
        .values(**wipe)
        .returning(Profile.profile_id)
    )
    kept = set(wiped)
    counted = (
        Event.tenant_id == tenant_id,
        Event.profile_id.is_not(None),
        Event.type.in_(sorted(types)),
    )
    total = int(await session.scalar(sa.select(sa.func.count()).where(*counted)) or 0)
    done = absorbed = 0
    if progress is not None:
        progress(0, total)
    # One ordered read, streamed (a server-side cursor on PostgreSQL), absorbed a part at a time.
    rows = await session.stream(
        sa.select(
            Event.type,
            Event.profile_id,
            Event.session_id,
            Event.value,
            Event.currency,
            Event.occurred_at,
            Event.offer_id,
            Event.properties,
        )
        .where(*counted)
        .order_by(Event.occurred_at, Event.id)
        .execution_options(yield_per=batch)
    )
    async for part in rows.partitions(batch):
        found = [
            EventIn.model_construct(  # validated when it arrived
                type=r.type,
                profile_id=r.profile_id,
                session_id=r.session_id,
                value=r.value,
                currency=r.currency,
                occurred_at=r.occurred_at,
                offer_id=r.offer_id,
                properties=r.properties,
            )
            for r in part
            if r.profile_id in kept
        ]
        if found:
            await absorb(session, tenant_id, found, index, now=now, currency=currency, parts=parts)
            await session.flush()
            session.expunge_all()  # the rows absorbed are written; keep memory flat
        done += len(part)
        absorbed += len(found)
        if progress is not None:
            progress(done, total)
    return Rebuilt(len(kept), absorbed)


def read(row: Profile, segments: Sequence[str], now: datetime) -> dict[str, Any]:
    """The profile as the API shows it, its features as at ``now``."""
    aggregates = row.aggregates
    return {
        "id": row.profile_id,
        "attributes": row.attributes,
        "consent": row.consent,
        **{name: int(aggregates.get(name, 0)) for name in TOTALS},
        "spend": float(aggregates.get("spend", 0.0)),
        "last_seen_at": row.last_seen_at,
        "categories": aggregates.get("categories", {}),
        "segments": list(segments),
        "features": features.read(row.features or {}, now),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def personalised(row: Profile | None) -> bool:
    return row is None or row.consent.get("personalization", True) is not False


def attributes_of(row: Profile, now: datetime, index: SegmentIndex | None = None) -> dict[str, Any]:
    """What a decision reads of a stored profile, as profile attributes: its own, its
    aggregates, its features at ``now`` (computed here, from the row already read: no query per
    fact), consent, and the segments of ``index`` it is in (only its consent without
    consent to personalise)."""
    if not personalised(row):
        return {"consent": dict(row.consent)}
    aggregates = row.aggregates
    found: dict[str, Any] = dict(row.attributes)
    for name in TOTALS:
        found[name] = int(aggregates.get(name, 0))
    found["spend"] = float(aggregates.get("spend", 0.0))
    if row.last_seen_at is not None:
        found["days_since_seen"] = max((now - row.last_seen_at).total_seconds() / 86_400, 0.0)
    categories = aggregates.get("categories")
    if categories:
        found["categories"] = {
            name: {k: v for k, v in values.items() if k != "last_at"}
            for name, values in categories.items()
        }
    found.update(features.read(row.features or {}, now))
    found["consent"] = dict(row.consent)
    # At ``now``, so that a segment may ask about history (bought_within('books', 7)).
    found["segments"] = members(index, {**profile_facts(found), rules.NOW: now}) if index else []
    return found


def segments_of(index: SegmentIndex, row: Profile, now: datetime) -> list[str]:
    """The segments a stored profile is in now (none without consent to personalise)."""
    return list(attributes_of(row, now, index).get("segments", []))


def decision_attributes(
    row: Profile, given: Mapping[str, Any], index: SegmentIndex, now: datetime
) -> dict[str, Any]:
    """A decision's profile attributes: the stored profile's (see :func:`attributes_of`) under
    the ones the request gives."""
    return {**attributes_of(row, now, index), **given}


class ProfileCache:
    """Stored profiles for decisions, each kept ``CACHE_SECONDS``; whether a tenant has any is
    kept as long, so that a tenant without profiles never reads one."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._rows: OrderedDict[tuple[uuid.UUID, str], tuple[float, Profile | None]] = OrderedDict()
        self._any: dict[uuid.UUID, tuple[float, bool]] = {}

    async def get(self, tenant_id: uuid.UUID, profile_id: str) -> Profile | None:
        now = time.monotonic()
        known = self._any.get(tenant_id)
        if known is not None and now - known[0] < CACHE_SECONDS and not known[1]:
            return None  # the tenant keeps no profiles
        key = (tenant_id, profile_id)
        found = self._rows.get(key)
        if found is not None and now - found[0] < CACHE_SECONDS:
            return found[1]
        async with self._session_factory() as session:
            if known is None or now - known[0] >= CACHE_SECONDS:
                has = await session.scalar(
                    sa.select(Profile.profile_id).where(Profile.tenant_id == tenant_id).limit(1)
                )
                known = self._any[tenant_id] = (now, has is not None)
            row = await session.get(Profile, key) if known[1] else None
        self._rows[key] = (now, row)
        self._rows.move_to_end(key)
        while len(self._rows) > CACHE_SIZE:
            self._rows.popitem(last=False)
        return row

    def forget(self, tenant_id: uuid.UUID, profile_ids: set[str]) -> None:
        for profile_id in profile_ids:
            self._rows.pop((tenant_id, profile_id), None)
        self._any.pop(tenant_id, None)
