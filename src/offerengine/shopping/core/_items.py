"""An offer's items as shown: the fare per passenger type, and the product chosen for each bundle
line, priced in the selling currency with the pricing trace behind each.

Items are the same in every offer of a flight that has them: made once per memo and shared, and
encoded to JSON once (as is the flight's summary)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from offerengine import money
from offerengine.bundles.core import ItemSpec
from offerengine.catalog.core import ProductFacts
from offerengine.inventory.core import FlightFacts
from offerengine.pricing import core as pricing
from offerengine.shopping.core._availability import ExtraChoice
from offerengine.shopping.core._config import HUNDRED, ZERO
from offerengine.shopping.core._currency import SellingCurrency
from offerengine.shopping.core._families import FareFamily
from offerengine.shopping.core._shop import Memo

Counts = Sequence[tuple[str, int]]  # passengers per type, the types with any

_encode = msgspec.json.Encoder().encode


def price_trace(result: pricing.PriceResult, rate: Decimal) -> dict[str, Any]:
    """How an item's unit price came about: the pricing rules' steps and guard rails, and the
    exchange rate to the selling currency."""
    return {
        "currency": result.currency,
        "base_price": str(result.base_price),
        "final_price": str(result.final_price),
        "exchange_rate": money.plain(rate),
        "steps": [
            {
                "rule_id": str(s.rule_id),
                "rule_name": s.rule_name,
                "version": s.version,
                "type": s.type,
                "multiplier": None if s.multiplier is None else money.plain(s.multiplier),
                "price_before": money.show(s.price_before, result.currency),
                "price_after": money.show(s.price_after, result.currency),
            }
            for s in result.steps
        ],
        "guard_rails": [
            {
                "name": g.name,
                "limit": str(g.limit),
                "price_before": money.show(g.price_before, result.currency),
            }
            for g in result.guard_rails
        ],
    }


def fare_item(
    summary: dict[str, Any],
    fare: ProductFacts,
    result: pricing.PriceResult,
    cabin: str,
    availability: dict[str, Any],
    *,
    currency: SellingCurrency,
    counts: Counts,
    family: FareFamily | None = None,
) -> dict[str, Any]:
    """The flight's item: each passenger type pays its ratio of the fare (sold in ``family``:
    the family's fare), rounded in the filing currency, then converted."""
    rate = currency.rate(fare.currency)
    cur = currency.code
    passengers = []
    base = subtotal = ZERO
    fare_price, fare_base = result.final_price, fare.base_price
    if family is not None:
        fare_price = family.fare(fare_price, fare.currency)
        fare_base = fare_base * family.multiplier
    for kind, count in counts:
        ratio = currency.fares.ratio(kind)
        unit_base = money.quantize(fare_base * ratio, fare.currency)
        unit = money.quantize(fare_price * ratio, fare.currency)
        shown_base = money.quantize(unit_base * rate, cur)
        shown = money.quantize(unit * rate, cur)
        passengers.append({"type": kind, "count": count, "unit_price": str(shown)})
        base += shown_base * count
        subtotal += shown * count
    item: dict[str, Any] = {
        "item_id": "flight",
        "type": "FLIGHT",
        "required": True,
        "product_code": fare.product_code,
        "name": fare.name,
        "cabin": cabin,
        "flight": summary,
        "passengers": passengers,
        "price": {
            "base": str(base),
            "subtotal": str(subtotal),
            "discount": currency.text(ZERO),
            "total": str(subtotal),
        },
        "availability": availability,
        "pricing": price_trace(result, rate),
    }
    if family is not None:  # orders hold its booking limit; loyalty earns by it
        item["fare_family"] = family.code
        item["pricing"]["fare_family"] = {
            "code": family.code,
            "multiplier": money.plain(family.multiplier),
            "fare": str(fare_price),
        }
    return item


@dataclass(frozen=True, slots=True)
class LinePrice:
    """A bundle line's product at the selling currency, per unit: its price before and after
    the pricing rules, the bundle's ``percentage`` off and that discount (negative), and the
    exchange rate it was converted at."""

    rate: Decimal
    base: Decimal
    unit: Decimal
    discount: Decimal
    percentage: Decimal

    @property
    def paid(self) -> Decimal:
        """What one unit costs after the bundle discount."""
        return self.unit + self.discount

    def of(self, count: int) -> dict[str, str]:
        """The item's ``price`` for ``count`` units."""
        return {
            "base": str(self.base * count),
            "subtotal": str(self.unit * count),
            "discount": str(self.discount * count),
            "discount_percentage": money.plain(self.percentage),
            "total": str(self.paid * count),
        }


def line_price(choice: ExtraChoice, discount_pct: Decimal, currency: SellingCurrency) -> LinePrice:
    """The chosen product's unit prices in the selling currency, less ``discount_pct`` %."""
    product, result = choice.product, choice.price_result
    cur = currency.code
    rate = currency.rate(product.currency)
    unit = money.quantize(result.final_price * rate, cur)
    return LinePrice(
        rate=rate,
        base=money.quantize(product.base_price * rate, cur),
        unit=unit,
        discount=-money.quantize(unit * discount_pct / HUNDRED, cur),
        percentage=discount_pct,
    )


def line_head(index: int, line: ItemSpec, product: ProductFacts) -> dict[str, Any]:
    """What a bundle line's item starts with: its id (by the line's place) and its product."""
    return {
        "item_id": f"extra-{index + 1}",
        "type": product.product_type,
        "required": line.required,
        "product_code": product.product_code,
        "name": product.name,
        "category": product.category,
    }


def extra_item(
    index: int,
    line: ItemSpec,
    choice: ExtraChoice,
    discount_pct: Decimal,
    *,
    currency: SellingCurrency,
    counts: Counts,
) -> dict[str, Any]:
    """A bundle line's item: its product for each seated passenger × the line's quantity, less
    the bundle discount."""
    product, result = choice.product, choice.price_result
    price = line_price(choice, discount_pct, currency)
    seated = [(k, n) for k, n in counts if k != "INFANT"]
    count = sum(n for _, n in seated) * line.quantity
    return {
        **line_head(index, line, product),
        "quantity_per_passenger": line.quantity,
        "passengers": [
            {"type": k, "count": n * line.quantity, "unit_price": str(price.paid)}
            for k, n in seated
        ],
        "price": price.of(count),
        "availability": {"status": choice.status, "remaining": choice.remaining},
        "pricing": price_trace(result, price.rate),
    }


class Items:
    """One search's items and their JSON, kept in the memo."""

    def __init__(self, currency: SellingCurrency, counts: Counts, memo: Memo) -> None:
        self.currency = currency
        self.counts = counts
        self._items = memo.items
        self._summaries = memo.summaries
        self._encoded = memo.encoded

    def fare(
        self,
        flight: FlightFacts,
        fare: ProductFacts,
        result: pricing.PriceResult,
        cabin: str,
        status: str,
        remaining: int,
        family: FareFamily | None = None,
    ) -> dict[str, Any]:
        key = (flight.id, cabin, None if family is None else family.code)
        found = self._items.get(key)
        if found is None:
            found = self._items[key] = fare_item(
                self.summary(flight),
                fare,
                result,
                cabin,
                {"status": status, "remaining": remaining},
                currency=self.currency,
                counts=self.counts,
                family=family,
            )
        return found

    def ancillary(
        self,
        flight: FlightFacts,
        index: int,
        line: ItemSpec,
        choice: ExtraChoice,
        discount_pct: Decimal,
    ) -> dict[str, Any]:
        key = (flight.id, index, choice.product.product_code, line, discount_pct)
        found = self._items.get(key)
        if found is None:
            found = self._items[key] = extra_item(
                index, line, choice, discount_pct, currency=self.currency, counts=self.counts
            )
        return found

    def kept(self, key: Any, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The memo's item under ``key``, made once (a partner line's, made by its module)."""
        found = self._items.get(key)
        if found is None:
            found = self._items[key] = make()
        return found

    def summary(self, flight: FlightFacts) -> dict[str, Any]:
        found = self._summaries.get(flight.id)
        if found is None:
            found = self._summaries[flight.id] = flight.summary()
        return found

    def json(self, shared: dict[str, Any]) -> bytes:
        """A dict the memo keeps (an item, a flight's summary) as JSON: encoded once, since every
        offer of the flight and every search sharing the memo shows the same one."""
        found = self._encoded.get(id(shared))
        if found is None:
            found = self._encoded[id(shared)] = _encode(shared)
        return found

    def list_json(self, items: Sequence[dict[str, Any]]) -> bytes:
        return b"[" + b",".join([self.json(item) for item in items]) + b"]"
