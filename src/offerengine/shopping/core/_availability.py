"""What stock and the catalog let a flight sell to a search: the cabin's seats and its FLIGHT
product, and for each bundle line the cheapest product that is in stock, priced."""

from __future__ import annotations

from dataclasses import dataclass

from offerengine.bundles.core import ItemSpec
from offerengine.catalog.core import ProductFacts
from offerengine.inventory import core as inventory
from offerengine.inventory.core import FlightFacts, ResourceKey, Stock
from offerengine.pricing import core as pricing
from offerengine.shopping.core._offer import Dropped, Need
from offerengine.shopping.core._pricer import Pricer
from offerengine.shopping.core._shop import Memo, Shop


@dataclass(slots=True)  # not frozen: one is made per offer, and a frozen init costs more
class CabinSeats:
    """A cabin with seats enough for the party."""

    key: ResourceKey
    capacity: int
    stock: Stock
    sellable: int  # for the fare family sold
    status: str  # available | low
    cabin_sellable: int  # for the cabin, before any family's booking limit


@dataclass(frozen=True, slots=True)
class ExtraChoice:
    """The product a bundle line takes: the cheapest in stock, and what an order of it holds."""

    product: ProductFacts
    price_result: pricing.PriceResult
    need: Need | None  # None: the product is not counted
    status: str
    remaining: int | None


class Availability:
    """One search's view of stock, with the choices it makes kept in the memo."""

    def __init__(self, shop: Shop, pricer: Pricer, memo: Memo) -> None:
        self.shop = shop
        self.pricer = pricer
        self._fares = memo.fares
        self._extras = memo.extras

    def seats(
        self, flight: FlightFacts, cabin: str, seated: int, family: str | None = None
    ) -> CabinSeats:
        """The cabin's seats; Dropped if the flight has no such cabin, too few seats left, or
        (with a forecast) the family it sells (``family``; None: the one at the cabin fare) is
        closed by its booking limit for the party."""
        capacity = flight.cabins.get(cabin)
        if capacity is None:
            raise Dropped(f"no {cabin} cabin")
        key = inventory.cabin_key(flight, cabin)
        stock = self._stock(key, capacity)
        rule = self.shop.policy.rule_for(key.resource_type, key.resource)
        sellable = cabin_sellable = stock.sellable(rule)
        if sellable < seated:
            raise Dropped(f"{cabin}: {sellable} seat(s) left for {seated} passenger(s)")
        controls = stock.controls
        if controls is not None:
            # The family sold at the cabin fare sells only while its booking limit allows; the
            # seats it may still sell are what the offer shows as left.
            sold = controls.family(family)
            sellable = max(0, sellable - sold.protected)
            if sellable < seated:
                raise Dropped(
                    f"{cabin}: fare family {sold.code} closed by its booking limit "
                    f"({sellable} seat(s) for {seated} passenger(s); {sold.protected} "
                    f"protected for the families above it)"
                )
        return CabinSeats(
            key,
            capacity,
            stock,
            sellable,
            inventory.availability_status(sellable, rule),
            cabin_sellable,
        )

    def fare_product(self, cabin: str) -> ProductFacts:
        """The tenant's FLIGHT product for the cabin; Dropped if there is none."""
        if cabin not in self._fares:
            fares = self.shop.catalog.select(product_type="FLIGHT", category=cabin)
            self._fares[cabin] = fares[0] if fares else None
        found = self._fares[cabin]
        if found is None:
            raise Dropped(f"no FLIGHT product with category {cabin}")
        return found

    def cheapest(self, flight: FlightFacts, line: ItemSpec, units: int) -> ExtraChoice | str:
        """The cheapest in-stock product for ``units`` of a bundle line, or why there is none."""
        key = (flight.id, line, units)
        found = self._extras.get(key)
        if found is None:
            found = self._extras[key] = self._choose(flight, line, units)
        return found

    def _choose(self, flight: FlightFacts, line: ItemSpec, units: int) -> ExtraChoice | str:
        candidates = self.shop.catalog.select(product_type=line.type, category=line.category)
        if not candidates:
            return "no such product in the catalog"
        best: ExtraChoice | None = None
        for product in candidates:
            located = inventory.locate(flight, product)
            need: Need | None = None
            stock: Stock | None = None
            status = "available"
            remaining: int | None = None
            if located is not None and units:
                key, capacity = located
                stock = self._stock(key, capacity)
                rule = self.shop.policy.rule_for(key.resource_type, key.resource)
                remaining = stock.sellable(rule)
                if remaining < units:
                    continue
                status = inventory.availability_status(remaining, rule)
                need = Need(key, units, capacity)
            result = self.pricer.price(flight, product, stock, None)
            if best is None or result.final_price < best.price_result.final_price:
                best = ExtraChoice(product, result, need, status, remaining)
        return best if best is not None else "sold out"

    def _stock(self, key: ResourceKey, capacity: int) -> Stock:
        return self.shop.stock(key) or Stock(capacity)
