"""Which currency a quote is priced in (commerce.core._exchange): as asked when a rule covers it,
else converted into a covered one with a configured rate, else refused naming ``currency``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from offerengine.commerce import core
from offerengine.errors import Invalid

RATES = {("USD", "TRY"): Decimal("34.50"), ("EUR", "GBP"): Decimal("0.85")}


def rate_of(source: str, target: str) -> Decimal | None:
    return RATES.get((source, target))


def _priced_in(asked: str, covered: set[str]) -> core.Exchange | None:
    return core.priced_in(asked, base="TRY", covered=covered, rate_of=rate_of, version=3)


def test_the_base_currency_and_every_covered_one_are_priced_as_asked() -> None:
    assert _priced_in("TRY", set()) is None
    assert _priced_in("USD", {"TRY", "USD"}) is None


def test_another_is_converted_into_the_base_currency_first_then_a_covered_one() -> None:
    assert _priced_in("USD", {"TRY", "GBP"}) == core.Exchange("USD", "TRY", Decimal("34.50"), 3)
    assert _priced_in("EUR", {"TRY", "GBP"}) == core.Exchange("EUR", "GBP", Decimal("0.85"), 3)


def test_without_a_rate_it_is_refused_naming_currency() -> None:
    with pytest.raises(Invalid) as refused:
        _priced_in("JPY", {"TRY", "GBP"})
    assert [e.loc for e in refused.value.errors] == [("body", "currency")]
    assert "GBP, TRY, not JPY" in refused.value.errors[0].msg


def test_conversion_rounds_each_unit_price_once_and_refuses_what_cannot_be_stored() -> None:
    address = core.Address(city="Istanbul", country="TR")
    item = core.Item(product_id="p", quantity=3, unit_price=Decimal("0.07"))
    basket = core.Basket(currency="USD", items=(item,), delivery=address)
    exchange = core.Exchange("USD", "TRY", Decimal("34.50"), 3)
    converted = core.convert(basket, exchange)
    assert (converted.currency, converted.exchange) == ("TRY", exchange)
    assert converted.items[0].unit_price == Decimal("2.42")  # 2.415, half-up
    huge = core.Basket(
        currency="USD",
        items=(core.Item(product_id="p", quantity=1, unit_price=Decimal("1e12")),),
        delivery=address,
    )
    with pytest.raises(Invalid) as refused:
        core.convert(huge, exchange)
    assert [e.loc for e in refused.value.errors] == [("body", "items", 0, "unit_price")]
