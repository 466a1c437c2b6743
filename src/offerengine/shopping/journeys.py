"""Journeys at run time: a search given in slices, its offers as shown, re-pricing a journey
offer, and what an out-of-stock search proposes instead.

1. :func:`planned`: the itineraries of every slice (every date of its window), from the
   snapshot's connection index (:class:`core.Connections`): no query; the caller reads the
   counters of their flights.
2. :func:`run_journey`: the core's journey offers (:class:`core.JourneyBuilder`), sharing prices
   with searches like it through the worker's memo, ranked as one-way offers are; each shown with
   its slices and segments.
3. :func:`alternatives`: when nothing is sellable, the nearest dates with seats (and, for the
   one-way shape, connections), over the flights :func:`alternative_flights` names.
4. :func:`reprice`: a stored journey offer built again from its flights with live counters.

An identical journey reuses a ranking as an identical one-way search does (see
:mod:`~offerengine.shopping.ranking`); a conversion model ranks one-way searches only: journeys use
the Beta-Binomial estimate.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from offerengine import ids, money
from offerengine.errors import Conflict
from offerengine.inventory.core import FlightFacts
from offerengine.recording import records
from offerengine.shopping import core, showing
from offerengine.shopping.models import Offer
from offerengine.shopping.ranking import Sharing, shop_for
from offerengine.shopping.showing import Ranked, Searched, Shown, shared_basis
from offerengine.shopping.stock import StockMap
from offerengine.snapshots.core import Snapshot

_encode = msgspec.json.Encoder().encode


def planned(snapshot: Snapshot, search: core.Search) -> core.Planned:
    """Every slice's itineraries over its window, from the snapshot's connection index."""
    config = snapshot.shopping
    return core.plan(config.connections, config.connection_rules, search.slices)


def alternative_flights(snapshot: Snapshot, slices: Sequence[core.Slice]) -> list[FlightFacts]:
    """The flights an out-of-stock answer may look at: every itinerary of the slices' nearby
    dates and own dates (whose counters the caller reads before :func:`alternatives`)."""
    config = snapshot.shopping
    rules = config.connection_rules
    out: list[FlightFacts] = []
    for s in slices:
        reach = max(s.days, rules.alternative_days)
        wide = core.Slice(s.origin, s.destination, s.day, reach)
        for day in wide.dates():
            for it in core.itineraries(config.connections, rules, s.origin, s.destination, day):
                out += it.segments
    return out


def alternatives(
    snapshot: Snapshot,
    search: core.Search,
    stock: StockMap,
    conversion: core.Conversion,
    at: datetime,
    *,
    connections: bool,
) -> dict[str, Any]:
    """The nearest dates with seats for each slice (and, for the one-way shape, connections with
    seats on the asked date), as the answer shows them."""
    config = snapshot.shopping
    slices = search.slices or (core.Slice(search.origin, search.destination, search.day),)
    found = core.alternatives(
        shop_for(snapshot, stock, conversion, search, at),
        search,
        at,
        config.connections,
        config.connection_rules,
        slices,
        connections=connections,
    )
    return found.as_json()


def run_journey(
    snapshot: Snapshot,
    search: core.Search,
    plan: core.Planned,
    stock: StockMap,
    conversion: core.Conversion,
    at: datetime,
    *,
    runtime: Sharing | None = None,
    stamp: tuple[Any, ...] | None = None,
) -> Searched:
    """The journey's offers as shown and the record that stores them (with nothing sellable, the
    caller adds :func:`alternatives`, once it has read the counters of the nearby flights). With
    the worker's ``runtime``, an identical journey reuses the ranking while the ``stamp`` it was
    ranked under holds (its flights' counters and the conversion counts read the same), and
    journeys with the same party share prices through the worker's memo."""
    shop = shop_for(snapshot, stock, conversion, search, at)
    cache = runtime.results if runtime is not None and stamp is not None else None
    key = cache.key(snapshot, search, shop.treatment) if cache is not None else None
    if cache is not None and key is not None and stamp is not None:
        found = cache.get(key, stamp, at)
        if found is not None and found.shown is not None:
            return showing.searched(snapshot, search, shop, found.shown, found.warnings, None, at)
    if runtime is not None:
        shop = dataclasses.replace(shop, memo=runtime.memo(snapshot, search, shop.treatment))
    builder = core.JourneyBuilder(shop, search, at, search.journey or "one_way")
    made, warnings = builder.candidates(plan)
    for n, its in enumerate(plan.by_slice):
        if not its:
            s = search.slices[n]
            days = f" ± {s.days} day(s)" if s.days else ""
            warnings.insert(
                0, f"no itinerary {s.origin}→{s.destination} on {s.day.isoformat()}{days}"
            )
    ranked = core.rank(made, shop.rules)
    reuse_seconds = cache.seconds if cache is not None and key is not None else 0.0
    shown = [shown_of(snapshot, search, c, shop.rules, at, reuse_seconds) for c in ranked]
    if cache is not None and key is not None and stamp is not None:
        leaves = min((c.flight.departs for c in ranked), default=None)
        cache.put(key, stamp, Ranked(warnings, None, shown, leaves))
    return showing.searched(snapshot, search, shop, shown, warnings, None, at)


def shown_of(
    snapshot: Snapshot,
    search: core.Search,
    candidate: core.Candidate,
    rules: core.OfferRules,
    at: datetime,
    reuse_seconds: float = 0.0,
) -> Shown:
    """A journey ``candidate`` as shown: the one-way members plus its journey and slices, and a
    body whose basis names every slice's flights, kept as long as any offer that can point at it
    (searches reuse a ranking for up to ``reuse_seconds``)."""
    parts = candidate.journey
    assert parts is not None  # the journey builder's candidates
    bundle = candidate.bundle
    grid = core.offer_grid_json(candidate)
    members = _encode(
        {
            "offer_type": candidate.offer_type.type,
            "bundle": None
            if bundle is None
            else {"id": str(bundle.id), "name": bundle.name, "version": bundle.version},
            "cabin": candidate.cabin,
            "flight": msgspec.Raw(candidate.flight_json),
            "journey": {"type": parts.type, "slices": len(parts.options)},
            "slices": core.slices_json(parts),
            "items": msgspec.Raw(candidate.items_json or _encode(candidate.items)),
            "omitted": candidate.omitted,
            "price": candidate.price,
            "currency": candidate.price["currency"],
            **({} if grid is None else {"fare_families": msgspec.Raw(grid)}),
            "score": candidate.score,
            "score_parts": candidate.parts,
            "low_stock": candidate.low_stock,
        }
    )[1:-1]
    basis = {
        "search": shared_basis(search),
        "flight_id": candidate.flight.key,
        "journey": parts.flights(),
        "offer_type": candidate.offer_type.type,
        "priority": candidate.offer_type.priority,
        "bundle_id": None if bundle is None else str(bundle.id),
        "needs": parts.needs_json(),
    }
    body_id = ids.new_body_id()
    last = core.expires_at(rules, at + timedelta(seconds=reuse_seconds + 60), candidate.flight)
    own = {
        "offer_type": candidate.offer_type.type,
        "flight_id": candidate.flight.key,
        "total_minor": money.to_minor(candidate.total, search.currency),
        "body_id": body_id,
    }
    return Shown(
        candidate.flight,
        candidate.offer_type.type,
        members,
        own,
        records.OfferBody(
            id=body_id,
            members_json=members.decode(),
            basis_json=_encode(basis).decode(),
            expires_at=last,
        ),
    )


def flights_of_offer(snapshot: Snapshot, stored: Offer) -> list[list[FlightFacts]]:
    """A stored journey offer's flights by slice; 409 if one was cancelled or is gone."""
    by_id = snapshot.shopping.flights.by_id
    out: list[list[FlightFacts]] = []
    for ids_ in stored.basis["journey"]:
        legs = []
        for key in ids_:
            flight = by_id.get(uuid.UUID(key))
            if flight is None or flight.status != "scheduled":
                raise Conflict(
                    f"Offer {stored.id} is no longer available: one of its flights was cancelled."
                )
            legs.append(flight)
        out.append(legs)
    return out


def reprice(
    snapshot: Snapshot,
    stored: Offer,
    stock: StockMap,
    conversion: core.ConversionModel,
    at: datetime,
) -> core.Candidate:
    """The stored journey offer priced now, from the same search, flights and offer type; 409 if
    some segment can no longer make it."""
    basis = stored.basis
    search = core.search_of(basis["search"])
    config = snapshot.shopping
    bundle = None
    if basis.get("bundle_id"):
        bundle = config.bundles.by_id.get(uuid.UUID(basis["bundle_id"]))
        if bundle is None or not bundle.is_active:
            raise Conflict(f"Offer {stored.id} is no longer available: its bundle was withdrawn.")
    shop = shop_for(snapshot, stock, conversion, search, at)
    builder = core.JourneyBuilder(shop, search, at, search.journey or "one_way")
    index = config.connections
    try:
        options = [
            builder.option(
                n,
                core.Itinerary(
                    tuple(legs),
                    sum(index.distance(f.origin, f.destination) for f in legs),
                ),
                bundle,
            )
            for n, legs in enumerate(flights_of_offer(snapshot, stored))
        ]
    except core.Dropped as exc:
        raise Conflict(f"Offer {stored.id} is no longer available: {exc}.") from None
    offer_type = core.OfferType(basis["offer_type"], int(basis.get("priority", 0)))
    return builder.candidate(offer_type, bundle, options)
