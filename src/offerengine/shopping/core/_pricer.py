"""One search's prices: each (flight, product) priced by the pricing rules once, with the facts of
the flight and the search, whatever the offers sharing it. A cabin's fare sees its ``utilization``
and, when the cabin has a forecast, the forecast facts of its controls (``forecast_load_factor``,
``expected_demand``, ``bid_price``, ``booking_limit``, ``protection_level``); without one those
facts are missing, and a rule that needs them does not apply."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from offerengine import money
from offerengine.catalog.core import ProductFacts
from offerengine.inventory.core import SEAT, FlightFacts, Stock
from offerengine.pricing import core as pricing
from offerengine.shopping.core._search import Search
from offerengine.shopping.core._shop import Memo, Shop


class Pricer:
    """One search's prices: each (flight, product) priced once, whatever the offers sharing it."""

    def __init__(self, shop: Shop, search: Search, at: datetime, memo: Memo) -> None:
        self.shop = shop
        self.search = search
        self.at = at
        self._facts = memo.facts
        self._prices = memo.prices
        base: dict[str, Any] = {
            "origin": search.origin,
            "destination": search.destination,
            "passengers": Decimal(search.passengers.seated + search.passengers.infants),
        }
        if search.channel:
            base["channel"] = search.channel
        for name in ("segment", "tier"):
            if search.customer.get(name) is not None:
                base[f"customer.{name}"] = str(search.customer[name])
        for name, value in search.context.items():
            base[f"context.{name}"] = value
        # A journey prices each segment's fare on the segment's own route, knowing the journey.
        self._per_segment = bool(search.slices)
        if search.slices:
            base["journey.type"] = search.journey
            base["journey.slices"] = Decimal(len(search.slices))
        self._base = base

    def facts(self, flight: FlightFacts) -> dict[str, Any]:
        found = self._facts.get(flight.id)
        if found is None:
            own: dict[str, Any] = {**self._base, "departure_time": flight.departure_at}
            if self._per_segment:
                own["origin"], own["destination"] = flight.origin, flight.destination
            found = pricing.situation_facts(
                own,
                at=self.at,
                timezone=self.shop.timezone,
            )
            self._facts[flight.id] = found
        return found

    def price(
        self, flight: FlightFacts, product: ProductFacts, stock: Stock | None, cabin: str | None
    ) -> pricing.PriceResult:
        key = (flight.id, product.product_code)
        found = self._prices.get(key)
        if found is not None:
            return found
        rules = self.shop.pricing.rules_for(product)
        treatment = self.shop.treatment
        if treatment is not None and treatment.controlled and rules:
            rules = tuple(r for r in rules if treatment.allows(r))
        if not rules and product.price_floor is None and product.price_ceiling is None:
            found = pricing.PriceResult(
                product.base_price,
                money.quantize(product.base_price, product.currency),
                product.currency,
                (),
                (),
                (),
            )
        else:
            facts = self.facts(flight)
            if stock is not None or cabin is not None:
                facts = dict(facts)
                if stock is not None:
                    facts["utilization"] = stock.utilization()
                    if stock.controls is not None and cabin is not None:
                        rule = self.shop.policy.rule_for(SEAT, cabin)
                        facts.update(
                            stock.controls.facts(
                                capacity=stock.capacity,
                                taken=stock.sold + stock.held,
                                sellable=stock.sellable(rule),
                            )
                        )
                if cabin is not None:
                    facts["cabin_class"] = cabin
            found = pricing.price(product, rules, facts, at=self.at)
        self._prices[key] = found
        return found
