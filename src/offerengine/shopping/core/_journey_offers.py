"""Offers for a journey: every slice's itineraries priced for each offer type, combined into
offers that price the whole journey; and, when nothing is sellable, the nearest dates and other
connections that are.

How a journey offer is made, for one offer type:

1. Each itinerary of each slice (on each date of its window) is priced as a *slice option*: every
   segment's cabin must have seats for the party and its fare is priced by the pricing rules with
   the segment's own facts (origin, destination, route, departure, utilization) and the journey's
   (``journey.type``, ``journey.slices``), so a rule on ``journey.type == "round_trip"`` prices a
   round trip's fares; taxes are each segment's (step 7 of :mod:`offerengine.shopping.core`).
   A bundle's other lines are taken once per slice, on its first segment (a bag checked through,
   the lounge at the slice's origin); a required line with nothing in stock drops the option.
2. Per slice, the ``OPTIONS_PER_SLICE`` cheapest options are kept; the journey offers are their
   combinations in which each slice leaves after the one before it lands.
3. Each combination is one candidate: its items are every segment's fare and every slice's
   ancillaries (item ids ``s<slice>-<segment>-flight`` and ``s<slice>-extra-<n>``), its price
   their exact sum plus every segment's taxes, its needs every segment's seats and every held
   ancillary (an order holds them all, or none). Candidates are then ranked as one-way ones are.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from offerengine.bundles.core import BundleFacts
from offerengine.shopping.core._build import Builder
from offerengine.shopping.core._config import FLIGHT_ONLY, ZERO, OfferType
from offerengine.shopping.core._family_grid import PendingGrid
from offerengine.shopping.core._journeys import (
    ConnectionRules,
    Connections,
    Itinerary,
    Slice,
    itineraries,
)
from offerengine.shopping.core._offer import Candidate, Dropped, Need
from offerengine.shopping.core._search import Search
from offerengine.shopping.core._shop import Shop
from offerengine.shopping.core._taxes import FareTaxes

OPTIONS_PER_SLICE = 3


@dataclass(slots=True)
class SliceOption:
    """One itinerary of one slice, priced for one offer type."""

    slice: int
    itinerary: Itinerary
    cabin: str
    items: list[dict[str, Any]]  # the memo's items, as priced (fares by segment, then extras)
    labels: list[tuple[str, int]]  # each item's id in the journey and its segment
    taxes: list[FareTaxes]  # by segment
    needs: list[Need]
    needed_by: list[str | None]  # by need: the journey item id of the ancillary it holds for
    low_stock: list[str]
    omitted: list[dict[str, str]]
    cost: Decimal
    total: Decimal = ZERO
    grids: tuple[PendingGrid | None, ...] = ()  # each segment's in every family of its set
    fare_family: str | None = None  # the family its fares sell in (its first segment's)


@dataclass(frozen=True, slots=True)
class JourneyParts:
    """What a journey offer holds beyond a one-way one: its type and each slice's option."""

    type: str
    options: tuple[SliceOption, ...]

    def flights(self) -> list[list[str]]:
        """Each slice's flight ids, in order: what re-pricing and orders start from."""
        return [[f.key for f in o.itinerary.segments] for o in self.options]

    def needs_json(self) -> list[dict[str, Any]]:
        """Every need as stored with the offer; an ancillary's names the item it holds for (an
        order that leaves the item out holds none of it, whatever the other slices keep)."""
        return [
            n.as_json() if item is None else {**n.as_json(), "item_id": item}
            for o in self.options
            for n, item in zip(o.needs, o.needed_by, strict=True)
        ]


@dataclass(frozen=True, slots=True)
class Planned:
    """A journey's itineraries by slice (every date of its window), before stock is read."""

    slices: tuple[Slice, ...]
    by_slice: tuple[tuple[Itinerary, ...], ...]

    def flights(self) -> list[Any]:
        return [f for its in self.by_slice for it in its for f in it.segments]


def plan(index: Connections, rules: ConnectionRules, slices: Sequence[Slice]) -> Planned:
    """Every slice's itineraries over the dates of its window, best first per date."""
    return Planned(
        tuple(slices),
        tuple(
            tuple(
                it
                for day in s.dates()
                for it in itineraries(index, rules, s.origin, s.destination, day)
            )
            for s in slices
        ),
    )


class JourneyBuilder:
    """Builds the candidate offers of one journey search over a :class:`Builder`'s parts."""

    def __init__(self, shop: Shop, search: Search, at: datetime, journey: str) -> None:
        self.builder = Builder(shop, search, at)
        self.shop = shop
        self.search = search
        self.at = at
        self.journey = journey

    def option(self, index: int, itinerary: Itinerary, bundle: BundleFacts | None) -> SliceOption:
        """The itinerary priced for the offer type of ``bundle`` (None: the flights only)."""
        b = self.builder
        items: list[dict[str, Any]] = []
        labels: list[tuple[str, int]] = []
        taxes: list[FareTaxes] = []
        needs: list[Need] = []
        needed_by: list[str | None] = []
        low: list[str] = []
        omitted: list[dict[str, str]] = []
        cost = ZERO
        cabin = ""
        grids: list[PendingGrid | None] = []
        family: str | None = None
        wanted = self.search.slices[index].fare_family if index < len(self.search.slices) else None
        for n, flight in enumerate(itinerary.segments):
            if flight.departs <= self.at:
                raise Dropped(f"{flight.carrier}{flight.flight_number} has left")
            cabin, parts = b._fare(flight, bundle, wanted)
            grids.append(parts.grid)
            family = family or parts.fare_family
            if n == 0 and bundle is not None:
                b._add_extras(parts, flight, bundle)
            taxes.append(b.taxes.of(flight, cabin, parts.items[0]))
            labels.append((f"s{index + 1}-{n + 1}-flight", n))
            extras: dict[str, str] = {}  # product code → the first item of it
            for k, item in enumerate(parts.items[1:], start=1):
                labels.append((f"s{index + 1}-extra-{k}", n))
                extras.setdefault(item["product_code"], labels[-1][0])
            items += parts.items
            needs += parts.needs
            needed_by += [
                None
                if need.key.resource_type == "SEAT" and need.key.resource == cabin
                else extras.get(need.key.resource)
                for need in parts.needs
            ]
            low += [f"{flight.carrier}{flight.flight_number} {s}" for s in parts.low_stock]
            omitted += [{**o, "slice": str(index + 1)} for o in parts.omitted]
            cost += parts.cost
        option = SliceOption(
            index, itinerary, cabin, items, labels, taxes, needs, needed_by, low, omitted, cost
        )
        option.total = b.totals.price(items, merged_taxes(taxes)).total
        option.grids, option.fare_family = tuple(grids), family
        return option

    def candidates(self, planned: Planned) -> tuple[list[Candidate], list[str]]:
        """Every journey offer the slices' itineraries can make under the offer rules, unranked,
        and why others could not."""
        made: list[Candidate] = []
        warnings: list[str] = []
        shop = self.shop
        for offer_type in shop.rules.types(shop.bundles):
            bundle: BundleFacts | None = None
            if offer_type.type != FLIGHT_ONLY:
                found = shop.bundles.by_type.get(offer_type.type)
                if not found:
                    warnings.append(f"{offer_type.type}: no active bundle template")
                    continue
                bundle = found[0]
            kept: list[list[SliceOption]] = []
            reasons: list[str] = []
            for index, its in enumerate(planned.by_slice):
                options = []
                for it in its:
                    try:
                        options.append(self.option(index, it, bundle))
                    except Dropped as exc:
                        reasons.append(f"slice {index + 1} {_name(it)}: {exc}")
                options.sort(key=lambda o: (o.total, o.itinerary.elapsed, o.itinerary.key()))
                kept.append(options[:OPTIONS_PER_SLICE])
            combos = [c for c in itertools.product(*kept) if _in_order(c)]
            if not combos:
                warnings.append(
                    f"{offer_type.type} not offered"
                    + (f" on {'; '.join(reasons[:6])}" if reasons else ": no itinerary in order")
                )
                continue
            made += [self.candidate(offer_type, bundle, combo) for combo in combos]
        return made, warnings

    def candidate(
        self, offer_type: OfferType, bundle: BundleFacts | None, options: Sequence[SliceOption]
    ) -> Candidate:
        b = self.builder
        benefits = b._tier_benefits()  # the customer's tier's, once per journey
        items = [item for o in options for item in o.items] + benefits
        taxes = merged_taxes([t for o in options for t in o.taxes], options)
        price = b.totals.price(items, taxes)
        cost = sum((o.cost for o in options), ZERO)
        net = price.net
        parts = JourneyParts(self.journey, tuple(options))
        shown_items = journey_items(parts) + benefits
        first = options[0].itinerary.first
        return Candidate(
            offer_type=offer_type,
            flight=first,
            bundle=bundle,
            cabin=options[0].cabin,
            items=shown_items,
            omitted=[o for option in options for o in option.omitted],
            needs=[n for o in options for n in o.needs],
            price=price.shown,
            total=price.total,
            margin=float((net - cost) / net) if net > 0 else 0.0,
            conversion=b._probability(offer_type.type),
            low_stock=[s for o in options for s in o.low_stock],
            # items_json is left to the offers shown (most candidates are not)
            flight_json=b.items.json(b.items.summary(first)),
            journey=parts,
        )


def _name(it: Itinerary) -> str:
    return "+".join(f"{f.carrier}{f.flight_number}" for f in it.segments) + (
        f" on {it.first.departure_date.isoformat()}"
    )


def _in_order(options: Sequence[SliceOption]) -> bool:
    """Each slice leaves after the slice before it lands."""
    return all(
        later.itinerary.first.departs > earlier.itinerary.last.arrival_at
        for earlier, later in itertools.pairwise(options)
    )


def merged_taxes(
    taxes: Sequence[FareTaxes], options: Sequence[SliceOption] | None = None
) -> FareTaxes:
    """Every segment's taxes as one: shown in segment order (each naming its slice and segment
    when ``options`` say which), their total, and what one passenger of each type pays."""
    where: list[tuple[int, int]] = []
    if options is not None:
        where = [(o.slice + 1, n + 1) for o in options for n in range(len(o.taxes))]
    shown: list[dict[str, Any]] = []
    per_passenger: dict[str, Decimal] = {}
    total = ZERO
    for k, tax in enumerate(taxes):
        for row in tax.shown:
            shown.append(
                row if not where else {**row, "slice": where[k][0], "segment": where[k][1]}
            )
        total += tax.total
        for kind, amount in tax.per_passenger.items():
            per_passenger[kind] = per_passenger.get(kind, ZERO) + amount
    return FareTaxes(shown, total, per_passenger)


def journey_items(parts: JourneyParts) -> list[dict[str, Any]]:
    """The journey's items as shown: each a copy of the priced item under its journey id, with
    the slice and segment it belongs to."""
    return [
        {**item, "item_id": label, "slice": option.slice + 1, "segment": segment + 1}
        for option in parts.options
        for item, (label, segment) in zip(option.items, option.labels, strict=True)
    ]


def slices_json(parts: JourneyParts) -> list[dict[str, Any]]:
    """Each slice as shown: where and when it goes, its stops, and its segments."""
    return [
        {
            "slice": o.slice + 1,
            **o.itinerary.summary(),
            "segments": [f.summary() for f in o.itinerary.segments],
        }
        for o in parts.options
    ]


# --- out of stock ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Alternatives:
    """What a search with nothing sellable can offer instead: the nearest dates with seats, per
    slice, and connections with seats on the slice's own date."""

    dates: list[dict[str, Any]] = field(default_factory=list)
    connections: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"dates": self.dates, "connections": self.connections}


def alternative_days(slice_: Slice, rules: ConnectionRules) -> list[date]:
    """The dates an out-of-stock slice looks at: nearest first, outside its own window, up to
    its window or the rules' ``alternative_days`` either side, whichever is wider."""
    reach = max(slice_.days, rules.alternative_days)
    own = set(slice_.dates())
    return [
        d
        for d in Slice(slice_.origin, slice_.destination, slice_.day, reach).dates()
        if d not in own
    ]


def alternatives(
    shop: Shop,
    search: Search,
    at: datetime,
    index: Connections,
    rules: ConnectionRules,
    slices: Sequence[Slice],
    *,
    connections: bool,
    per_slice: int = 3,
) -> Alternatives:
    """For each slice, the nearest dates with an itinerary whose every segment has seats for the
    party in the search's cabin; with ``connections``, also the connecting itineraries with seats
    on the slice's own dates (a one-way shape search shops nonstops only)."""
    builder = Builder(shop, search, at)
    seated = search.passengers.seated
    out = Alternatives()

    def sellable(it: Itinerary) -> bool:
        try:
            for flight in it.segments:
                if flight.departs <= at:
                    return False
                builder.availability.seats(flight, search.cabin, seated)
        except Dropped:
            return False
        return True

    for n, s in enumerate(slices):
        if connections:
            for day in s.dates():
                for it in itineraries(index, rules, s.origin, s.destination, day):
                    if it.stops and sellable(it) and len(out.connections) < per_slice * (n + 1):
                        out.connections.append(
                            {"slice": n + 1, **it.summary(), "flights": _flights(it)}
                        )
        found = 0
        for day in alternative_days(s, rules):
            good = [
                it for it in itineraries(index, rules, s.origin, s.destination, day) if sellable(it)
            ]
            if not good:
                continue
            out.dates.append(
                {
                    "slice": n + 1,
                    "date": day.isoformat(),
                    "days_from_asked": (day - s.day).days,
                    "itineraries": len(good),
                    "nonstop": any(it.stops == 0 for it in good),
                    "earliest": {**good[0].summary(), "flights": _flights(good[0])},
                }
            )
            found += 1
            if found >= per_slice:
                break
    return out


def _flights(it: Itinerary) -> list[str]:
    return [f"{f.carrier}{f.flight_number}" for f in it.segments]
