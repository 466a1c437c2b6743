"""The fare-family grid an offer shows: for each family of its cabin's set, what the offer would
cost sold in that family, and whether the family can still sell to the party.

Only the fare line changes between families: each passenger type pays its ratio of the family's
fare (:meth:`FareFamily.fare`), rounded in the filing currency and converted, exactly as the
offer's own fare item is priced; the taxes on the fare are worked out again by the fare settings'
rules (a percentage tax follows the fare); the offer's other lines are unchanged. So for a family
``F``, ``total(F) = offer total − (fare + taxes of the family sold) + (fare + taxes of F)``: a
flight's cabin gives one :class:`FamilyGrid` (the fare and taxes of every family, and its seats)
per memo, worked out when an offer of it is first shown (:class:`PendingGrid`: most candidates
never are), and each offer shown adds its own total to it.

A family is available while the cabin has seats for the party and, when the cabin has a
forecast, while its booking limit (:class:`offerengine.revenue.core.controls.CabinControls`)
allows them. Rows are shown **lowest family first** (left to right, cheapest to dearest, as a
comparison grid reads). A journey shows one grid per slice: its segments' grids added up, over
the families every segment's set has (named as its first segment's set names them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from offerengine import money
from offerengine.inventory.core import FlightFacts, Stock
from offerengine.pricing import core as pricing
from offerengine.shopping.core._config import ZERO
from offerengine.shopping.core._currency import SellingCurrency
from offerengine.shopping.core._families import FamilySet, FareFamilies, FareFamily
from offerengine.shopping.core._offer import Candidate, Dropped
from offerengine.shopping.core._shop import Memo
from offerengine.shopping.core._taxes import fare_taxes

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class FamilyRow:
    """One family of a grid: its fare and taxes for the whole party (selling currency), and the
    seats it may still sell."""

    code: str
    members: bytes  # code, name, attributes as JSON members
    amount: Decimal
    remaining: int
    available: bool


@dataclass(frozen=True, slots=True)
class FamilyGrid:
    """A flight's cabin (or a journey slice) in every family, lowest first."""

    rows: tuple[FamilyRow, ...]

    def row(self, code: str | None) -> FamilyRow | None:
        for row in self.rows:
            if row.code == code:
                return row
        return None


@dataclass(frozen=True, slots=True)
class PendingGrid:
    """A flight's cabin in every family, worked out only when an offer of it is shown (most
    candidates are not), then kept in the memo."""

    prices: FamilyPrices
    flight: FlightFacts
    cabin: str
    families: FamilySet
    result: pricing.PriceResult
    stock: Stock
    sellable: int

    def get(self) -> FamilyGrid:
        return self.prices.worked_out(self)


class FamilyPrices:
    """One search's grids, by flight and cabin, kept in the memo."""

    def __init__(
        self,
        currency: SellingCurrency,
        countries: Mapping[str, str],
        counts: Sequence[tuple[str, int]],
        seated: int,
        memo: Memo,
    ) -> None:
        self.currency = currency
        self.countries = countries
        self.counts = counts
        self.seated = seated
        self._grids = memo.family_grids
        self._pending: dict[tuple[Any, ...], PendingGrid] = {}

    def grid(
        self,
        flight: FlightFacts,
        cabin: str,
        families: FamilySet,
        result: pricing.PriceResult,
        stock: Stock,
        sellable: int,
    ) -> PendingGrid:
        """The cabin's families at the cabin fare ``result``, with ``sellable`` seats unsold, to
        work out when shown."""
        key = (flight.id, cabin)
        found = self._pending.get(key)
        if found is None:
            found = self._pending[key] = PendingGrid(
                self, flight, cabin, families, result, stock, sellable
            )
        return found

    def worked_out(self, pending: PendingGrid) -> FamilyGrid:
        """The pending grid's families worked out, once per flight and cabin."""
        key = (pending.flight.id, pending.cabin)
        found = self._grids.get(key)
        if found is None:
            found = self._grids[key] = self._work_out(
                pending.flight,
                pending.families,
                pending.result,
                pending.stock.controls,
                pending.sellable,
            )
        return found

    def _work_out(
        self,
        flight: FlightFacts,
        families: FamilySet,
        result: pricing.PriceResult,
        controls: Any,
        sellable: int,
    ) -> FamilyGrid:
        currency = self.currency
        filing = result.currency
        rate = currency.rate(filing)
        cur = currency.code
        rows = []
        for family in reversed(families.families):  # lowest first
            fare = family.fare(result.final_price, filing)
            passengers = []
            subtotal = ZERO
            for kind, count in self.counts:
                unit = money.quantize(fare * currency.fares.ratio(kind), filing)
                shown = money.quantize(unit * rate, cur)
                passengers.append({"type": kind, "count": count, "unit_price": str(shown)})
                subtotal += shown * count
            taxes = fare_taxes(flight, {"passengers": passengers}, currency, self.countries)
            amount = subtotal + sum((Decimal(t["amount"]) for t in taxes), ZERO)
            remaining = sellable if controls is None else controls.limit(sellable, family.code)
            rows.append(
                FamilyRow(family.code, family.members, amount, remaining, remaining >= self.seated)
            )
        return FamilyGrid(tuple(rows))


def slice_grid(grids: Sequence[FamilyGrid | PendingGrid | None]) -> FamilyGrid | None:
    """A journey slice's grid from its segments': the families every segment has, their amounts
    added, available when every segment's is; None when a segment has no families."""
    if not grids or any(g is None for g in grids):
        return None
    first, *others = [g.get() if isinstance(g, PendingGrid) else g for g in grids if g is not None]
    if not others:
        return first
    rows = []
    for row in first.rows:
        found = [g.row(row.code) for g in others]
        if any(f is None for f in found):
            continue
        more = [f for f in found if f is not None]
        rows.append(
            FamilyRow(
                row.code,
                row.members,
                row.amount + sum((f.amount for f in more), ZERO),
                min([row.remaining, *(f.remaining for f in more)]),
                row.available and all(f.available for f in more),
            )
        )
    return FamilyGrid(tuple(rows))


def grid_json(grid: FamilyGrid, selected: str | None, total: Decimal, currency: str) -> bytes:
    """The grid as shown for an offer of ``total`` sold in ``selected``: per family its code,
    name and attributes (fees in ``fee_currency``), the offer's total in it and the difference,
    its seats, and which one the offer sells."""
    own = grid.row(selected)
    base = total - (own.amount if own is not None else ZERO)
    quantize = money.quantizer(currency)
    rows = []
    for row in grid.rows:
        in_family = base + row.amount
        rest = _encode(
            {
                "total": str(quantize(in_family)),
                "difference": str(quantize(in_family - total)),
                "available": row.available,
                "remaining": row.remaining,
                "selected": row.code == selected,
            }
        )
        rows.append(b"{" + row.members + b"," + rest[1:])
    return b"[" + b",".join(rows) + b"]"


def family_to_sell(
    families: FareFamilies, cabin: str, flight: FlightFacts, wanted: str | None
) -> tuple[FamilySet | None, FareFamily | None]:
    """The flight's set for the cabin and the family its fare sells in: ``wanted``, else the
    set's default; (None, None) when the cabin has no set on the route and none is wanted.
    Dropped when the route's set lacks the family wanted."""
    found = families.for_route(cabin, flight.origin, flight.destination)
    if found is None:
        if wanted is None:
            return None, None
        raise Dropped(f"{cabin}: no fare families on {flight.origin}-{flight.destination}")
    family = found.get(wanted or found.default)
    if family is None:
        raise Dropped(f"{cabin}: no fare family {wanted} on {flight.origin}-{flight.destination}")
    return found, family


def offer_grid_json(candidate: Candidate) -> bytes | None:
    """A candidate's ``fare_families`` as shown: a one-way offer's grid, or a journey offer's
    grid per slice (``[{"slice": n, "families": [...]}]``, the slices that have one); None when
    no fare of it has a fare family set."""
    currency = candidate.price["currency"]
    if candidate.journey is None:
        if candidate.fare_families is None:
            return None
        return grid_json(
            candidate.fare_families.get(), candidate.fare_family, candidate.total, currency
        )
    slices = []
    for o in candidate.journey.options:
        grid = slice_grid(o.grids)
        if grid is not None:
            slices.append(
                b'{"slice":%d,"families":' % (o.slice + 1)
                + grid_json(grid, o.fare_family, candidate.total, currency)
                + b"}"
            )
    return b"[" + b",".join(slices) + b"]" if slices else None
