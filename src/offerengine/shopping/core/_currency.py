"""Amounts in a search's selling currency: exchanged from the filing currency with the tenant's
rate table and rounded half-up to the selling currency's minor units; products' unit costs
converted once per memo."""

from __future__ import annotations

from decimal import Decimal

from offerengine import money
from offerengine.catalog.core import ProductFacts
from offerengine.shopping.core._config import ZERO, FareSettings
from offerengine.shopping.core._offer import Dropped
from offerengine.shopping.core._shop import Memo


def amount_text(value: Decimal, currency: str) -> str:
    """``value`` as shown: rounded to the currency's minor units."""
    return str(money.quantizer(currency)(value))


class SellingCurrency:
    """The currency a search sells in, with the rates that lead to it."""

    def __init__(self, fares: FareSettings, code: str, memo: Memo) -> None:
        self.fares = fares
        self.code = code
        self._costs = memo.costs

    def rate(self, source: str) -> Decimal:
        """Units of the selling currency per unit of ``source``; Dropped without a rate."""
        rate = self.fares.rate(source, self.code)
        if rate is None:
            raise Dropped(f"no exchange rate from {source} to {self.code}")
        return rate

    def convert(self, amount: Decimal, source: str) -> Decimal:
        return money.quantize(amount * self.rate(source), self.code)

    def text(self, value: Decimal) -> str:
        return amount_text(value, self.code)

    def cost(self, product: ProductFacts, units: int) -> Decimal:
        """What ``units`` of ``product`` cost the airline (zero when its cost is not known)."""
        if product.cost is None or units == 0:
            return ZERO
        key = ("cost", product.product_code)
        unit = self._costs.get(key)
        if unit is None:
            unit = self._costs[key] = self.convert(product.cost, product.currency)
        return unit * units
