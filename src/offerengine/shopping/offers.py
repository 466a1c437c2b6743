"""Stored offers: finding one a search showed, and pricing it again.

An offer is stored in two rows, handed to the recorder by its search and written soon after: its
search's (what is each offer's own: type, flight, total, body, expiry) and its body (members and
basis, shared by every search that reused its ranking). A recent offer may still be in this
worker's recorder, or in another worker's (then :func:`find` waits for it, up to ``LOOKUP_WITHIN``
seconds after its creation). Re-pricing builds the offer again from its basis (search, flight,
offer type, bundle) with live counters; an order holds the units its basis ``needs``
(:func:`needs_of`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine import ids
from offerengine.errors import Conflict, Gone, NotFound
from offerengine.inventory.core import ResourceKey
from offerengine.recording import Recording, records
from offerengine.recording.writer import LOOKUP_WITHIN
from offerengine.shopping import core, journeys
from offerengine.shopping.models import Offer, OfferBody, StoredSearch, place_of
from offerengine.shopping.ranking import shop_for
from offerengine.shopping.stock import StockMap
from offerengine.snapshots.core import Snapshot


async def get(
    recorder: Recording,
    session_factory: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    offer_id: str,
    *,
    now: datetime,
) -> Offer:
    """A stored offer: 404 if unknown (or another tenant's), 410 once expired."""
    found = await find(recorder, session_factory, offer_id)
    if found is None or found.tenant_id != tenant_id:
        raise NotFound(f"No offer {offer_id}.")
    if found.expires_at <= now:
        raise Gone(f"Offer {offer_id} expired at {found.expires_at.isoformat()}; search again.")
    return found


async def find(
    recorder: Recording,
    session_factory: async_sessionmaker[AsyncSession],
    offer_id: str,
) -> Offer | None:
    """The offer from this worker's recorder or the database; a recent one another worker made is
    waited for (up to ``LOOKUP_WITHIN`` seconds after its creation)."""
    key, place = place_of(offer_id)
    while True:
        row: dict[str, Any] | None = None
        young = await recorder.young(("search", key))
        if isinstance(young, records.Search):
            row = {c.key: getattr(young, c.key) for c in StoredSearch.__table__.columns}
        else:
            async with session_factory() as session:
                found = await session.get(StoredSearch, key)
                if found is not None:
                    row = {c.key: getattr(found, c.key) for c in StoredSearch.__table__.columns}
        if row is not None:
            own = msgspec.json.decode(row["offers_json"]).get(place)
            if own is None:
                return None
            body = await recorder.young_body(own["body_id"])
            if body is None:  # written already (perhaps by an earlier search: a reused result)
                async with session_factory() as session:
                    stored = await session.get(OfferBody, own["body_id"])
                if stored is None:
                    return None
                return Offer.of(offer_id, row, own, stored.members_json, stored.basis_json)
            return Offer.of(offer_id, row, own, body.members_json, body.basis_json)
        age = ids.hex_age_seconds(offer_id)
        if age is None or age > LOOKUP_WITHIN or age < -1:
            return None
        await asyncio.sleep(0.02)


@dataclass(frozen=True, slots=True)
class Repriced:
    offer_id: str
    offer: dict[str, Any]
    changed: bool
    previous_total: str


def reprice(
    snapshot: Snapshot,
    stored: Offer,
    stock: StockMap,
    conversion: core.ConversionModel,
    at: datetime,
) -> Repriced:
    """The stored offer priced now, from the same search, flight and offer type. 409 if the flight
    can no longer make it (sold out, cancelled, bundle gone)."""
    basis = stored.basis
    if "journey" in basis:
        return _repriced(stored, journeys.reprice(snapshot, stored, stock, conversion, at), at)
    search = core.search_of(basis["search"])
    config = snapshot.shopping
    flight = config.flights.by_id.get(uuid.UUID(basis["flight_id"]))
    if flight is None or flight.status != "scheduled":
        raise Conflict(f"Offer {stored.id} is no longer available: its flight was cancelled.")
    offer_type = core.OfferType(basis["offer_type"], int(basis.get("priority", 0)))
    bundle = None
    if basis.get("bundle_id"):
        bundle = config.bundles.by_id.get(uuid.UUID(basis["bundle_id"]))
        if bundle is None or not bundle.is_active:
            raise Conflict(f"Offer {stored.id} is no longer available: its bundle was withdrawn.")
    shop = shop_for(snapshot, stock, conversion, search, at)
    try:
        candidate = core.Builder(shop, search, at).build(flight, offer_type, bundle)
    except core.Dropped as exc:
        raise Conflict(f"Offer {stored.id} is no longer available: {exc}.") from None
    return _repriced(stored, candidate, at)


def _repriced(stored: Offer, candidate: core.Candidate, at: datetime) -> Repriced:
    shown = stored.body
    offer = {
        **shown,
        "items": candidate.items,
        "omitted": candidate.omitted,
        "price": candidate.price,
        "low_stock": candidate.low_stock,
        "priced_at": at.isoformat(),
    }
    grid = core.offer_grid_json(candidate)
    if grid is not None:  # the grid at today's prices and seats
        offer["fare_families"] = msgspec.json.decode(grid)
    previous = shown["price"]["total"]
    return Repriced(stored.id, offer, candidate.price["total"] != previous, previous)


def needs_of(raw: Sequence[dict[str, Any]]) -> list[tuple[ResourceKey, int, int]]:
    """An offer basis's ``needs`` as inventory holds them: (bucket, quantity, capacity)."""
    return [
        (
            ResourceKey(n["scope"], n["resource_type"], n["resource"]),
            int(n["quantity"]),
            int(n["capacity"]),
        )
        for n in raw
    ]
