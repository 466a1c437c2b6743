"""Building one priced offer for one flight and one offer type (``FLIGHT_ONLY`` or a bundle type):
the seats of its cabin and its fare, the bundle's other lines, taxes, the price and the margin.

The parts it draws on, each keeping what it works out in the search's :class:`Memo`:
:class:`Availability` (seats and products in stock), :class:`Pricer` (the pricing rules),
:class:`Items` (the items shown), :class:`Taxes` and :class:`Totals` (the price), all in the
:class:`SellingCurrency`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from offerengine.bundles.core import BundleFacts, ItemSpec
from offerengine.inventory.core import FlightFacts
from offerengine.shopping.core import _partners as partners
from offerengine.shopping.core._availability import Availability, ExtraChoice
from offerengine.shopping.core._config import OfferType
from offerengine.shopping.core._conversion import Personal
from offerengine.shopping.core._currency import SellingCurrency
from offerengine.shopping.core._family_grid import FamilyPrices, PendingGrid, family_to_sell
from offerengine.shopping.core._items import Items
from offerengine.shopping.core._offer import Candidate, Dropped, Need
from offerengine.shopping.core._pricer import Pricer
from offerengine.shopping.core._search import Search
from offerengine.shopping.core._shop import Memo, Shop
from offerengine.shopping.core._taxes import Taxes
from offerengine.shopping.core._totals import Totals


@dataclass(slots=True)
class _Parts:
    """What an offer is made of so far: its items, and what it needs, lacks and costs."""

    items: list[dict[str, Any]]
    needs: list[Need]
    low_stock: list[str]
    cost: Decimal
    omitted: list[dict[str, str]] = field(default_factory=list)
    grid: PendingGrid | None = None  # the fare's cabin in every fare family of its set
    fare_family: str | None = None  # the family the fare sells in


class Builder:
    """Builds the candidate offers of one search."""

    def __init__(self, shop: Shop, search: Search, at: datetime) -> None:
        self.shop = shop
        self.search = search
        self.at = at
        memo = shop.memo if shop.memo is not None else Memo()
        counts = search.passengers.counts()
        self.pricer = Pricer(shop, search, at, memo)
        self.currency = SellingCurrency(shop.fares, search.currency, memo)
        self.availability = Availability(shop, self.pricer, memo)
        self.items = Items(self.currency, counts, memo)
        self.taxes = Taxes(self.currency, shop.countries, [kind for kind, _ in counts], memo)
        self.totals = Totals(self.currency, counts, memo)
        self.families = FamilyPrices(
            self.currency, shop.countries, counts, search.passengers.seated, memo
        )
        self._benefits = memo.benefits
        # A personal conversion is this search's own; the Beta-Binomial one is shared.
        self._probabilities = {} if isinstance(shop.conversion, Personal) else memo.probabilities

    def build(
        self, flight: FlightFacts, offer_type: OfferType, bundle: BundleFacts | None
    ) -> Candidate:
        """The offer of ``offer_type`` on ``flight``; Dropped when the flight cannot make it."""
        cabin, parts = self._fare(flight, bundle)
        if bundle is not None:
            self._add_extras(parts, flight, bundle)
        parts.items += self._tier_benefits()
        fare_item = parts.items[0]
        price = self.totals.price(parts.items, self.taxes.of(flight, cabin, fare_item))
        net = price.net
        return Candidate(
            offer_type=offer_type,
            flight=flight,
            bundle=bundle,
            cabin=cabin,
            items=parts.items,
            omitted=parts.omitted,
            needs=parts.needs,
            price=price.shown,
            total=price.total,
            margin=float((net - parts.cost) / net) if net > 0 else 0.0,
            conversion=self._probability(offer_type.type),
            low_stock=parts.low_stock,
            items_json=self.items.list_json(parts.items),
            flight_json=self.items.json(fare_item["flight"]),
            fare_families=parts.grid,
            fare_family=parts.fare_family,
        )

    def _fare(
        self, flight: FlightFacts, bundle: BundleFacts | None, family: str | None = None
    ) -> tuple[str, _Parts]:
        """The cabin (the bundle's FLIGHT line's, else the search's), its seats and its fare, in
        the fare family ``family`` (None: the search's, else the set's default) when the cabin
        has a fare family set on the route, with the grid of its families."""
        seated = self.search.passengers.seated
        flight_line = bundle.flight if bundle is not None else None
        cabin = (flight_line.cabin_class if flight_line else None) or self.search.cabin
        found, sold = family_to_sell(
            self.shop.families, cabin, flight, family or self.search.fare_family
        )
        code = None if sold is None else sold.code
        seats = self.availability.seats(flight, cabin, seated, code)
        fare = self.availability.fare_product(cabin)
        result = self.pricer.price(flight, fare, seats.stock, cabin)
        fare_item = self.items.fare(flight, fare, result, cabin, seats.status, seats.sellable, sold)
        grid = None
        if found is not None:
            grid = self.families.grid(
                flight, cabin, found, result, seats.stock, seats.cabin_sellable
            )
        return cabin, _Parts(
            items=[fare_item],
            needs=[Need(seats.key, seated, seats.capacity)] if seated else [],
            low_stock=[f"{cabin} seats"] if seats.status == "low" else [],
            cost=self.currency.cost(fare, seated),
            grid=grid,
            fare_family=code,
        )

    def _add_extras(self, parts: _Parts, flight: FlightFacts, bundle: BundleFacts) -> None:
        """The bundle's other lines: each the cheapest product in stock; a required line with
        none drops the offer, an optional one is listed as omitted."""
        seated = self.search.passengers.seated
        for index, line in enumerate(bundle.extras):
            units = seated * line.quantity
            chosen = self.availability.cheapest(flight, line, units)
            if isinstance(chosen, str):
                if line.required:
                    raise Dropped(f"required {line.describe()}: {chosen}")
                parts.omitted.append(
                    {"type": line.type, "category": line.category or "", "reason": chosen}
                )
                continue
            sold = partners.units_of(chosen.product, line, self.search)
            if sold is not None and not partners.on_first_slice(flight, self.search):
                continue  # a journey takes a partner line (a stay, a car) with its first slice
            if chosen.need is not None:
                parts.needs.append(chosen.need)
                if chosen.status == "low":
                    parts.low_stock.append(chosen.product.product_code)
            if sold is not None:  # a partner product, priced by its unit for the party
                parts.items.append(self._partner(flight, index, line, chosen, bundle, sold))
                parts.cost += self.currency.cost(chosen.product, sold.count)
                continue
            parts.items.append(
                self.items.ancillary(flight, index, line, chosen, bundle.discount_percentage)
            )
            parts.cost += self.currency.cost(chosen.product, units)

    def _partner(
        self,
        flight: FlightFacts,
        index: int,
        line: ItemSpec,
        chosen: ExtraChoice,
        bundle: BundleFacts,
        sold: partners.PartnerUnits,
    ) -> dict[str, Any]:
        discount = bundle.discount_percentage
        return self.items.kept(
            (flight.id, index, chosen.product.product_code, line, discount, sold),
            lambda: partners.partner_item(
                index,
                line,
                chosen,
                discount,
                sold,
                currency=self.currency,
                counts=self.search.passengers.counts(),
            ),
        )

    def _tier_benefits(self) -> list[dict[str, Any]]:
        """The customer's loyalty tier's benefits (free bags, lounge, seat choice) as items
        priced 0; kept in the memo, as every item is (its numbers and JSON are by its id)."""
        tier = self.search.customer.get("tier")
        if self.shop.loyalty is None or tier is None:
            return []
        found = self._benefits.get(str(tier))
        if found is None:
            found = self._benefits[str(tier)] = self.shop.loyalty.benefits(
                str(tier), self.currency.code, self.search.passengers.counts()
            )
        return found

    def _probability(self, offer_type: str) -> float:
        found = self._probabilities.get(offer_type)
        if found is None:
            found = self._probabilities[offer_type] = self.shop.conversion.probability(
                offer_type, self.search.segment
            )
        return found
