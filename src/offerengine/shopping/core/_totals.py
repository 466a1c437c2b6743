"""An offer's price: its items' amounts added up, with the taxes on its fare, into the price
shown (base, adjustments, discount, taxes, total, and the total per passenger type). Amounts are
exact sums of what the items show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from offerengine.shopping.core._config import ZERO
from offerengine.shopping.core._currency import SellingCurrency
from offerengine.shopping.core._shop import Memo
from offerengine.shopping.core._taxes import FareTaxes


@dataclass(frozen=True, slots=True)
class ItemNumbers:
    """An item's base, subtotal and discount, and what one passenger of each type pays for it."""

    base: Decimal
    subtotal: Decimal
    discount: Decimal
    per_passenger: dict[str, Decimal]


@dataclass(slots=True)  # not frozen: one is made per offer, and a frozen init costs more
class OfferPrice:
    shown: dict[str, Any]
    net: Decimal  # after the discount, before taxes
    total: Decimal


class Totals:
    """One search's offer prices; each item read once per memo (items are shared by the offers of
    a flight)."""

    def __init__(self, currency: SellingCurrency, counts: Sequence[tuple[str, int]], memo: Memo):
        self.currency = currency
        self.counts = counts
        self._kinds = tuple(kind for kind, _ in counts)
        self._by_kind = dict(counts)
        self._numbers = memo.item_numbers

    def price(self, items: Sequence[dict[str, Any]], taxes: FareTaxes) -> OfferPrice:
        base = before_discount = discount = ZERO
        units = dict.fromkeys(self._kinds, ZERO)
        for item in items:
            numbers = self.numbers(item)
            base += numbers.base
            before_discount += numbers.subtotal
            discount += numbers.discount
            for kind, unit in numbers.per_passenger.items():
                units[kind] += unit
        net = before_discount + discount
        total = net + taxes.total
        text = self.currency.text
        shown = {
            "base": text(base),
            "adjustments": text(before_discount - base),
            "discount": text(discount),
            "taxes": taxes.shown,
            "tax_total": text(taxes.total),
            "total": text(total),
            "currency": self.currency.code,
            "per_passenger": [
                {
                    "type": kind,
                    "count": count,
                    "total": str(units[kind] + taxes.per_passenger[kind]),
                }
                for kind, count in self.counts
            ],
        }
        return OfferPrice(shown, net, total)

    def numbers(self, item: dict[str, Any]) -> ItemNumbers:
        found = self._numbers.get(id(item))
        if found is None:
            price = item["price"]
            per_unit: dict[str, Decimal] = {}
            for row in item["passengers"]:
                count = self._by_kind[row["type"]]
                per_unit[row["type"]] = Decimal(row["unit_price"]) * (row["count"] // count)
            found = ItemNumbers(
                Decimal(price["base"]),
                Decimal(price["subtotal"]),
                Decimal(price["discount"]),
                per_unit,
            )
            self._numbers[id(item)] = found
        return found
