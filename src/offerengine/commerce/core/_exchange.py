"""The currency a quote is priced in: the one asked for when the tenant's rules cover it, else
one they do, the basket converted with the tenant's exchange rates.

Rates, fees and taxes each name their currency, and a basket in a currency none of them names
would be priced by no rule: no tax, no fee, no commission, a quote that looks right and is not.
So (docs/quotes.md, "Currencies"):

1. the tenant's base currency, and every currency some rule in force at the quote's time prices
   in, are quoted as they are;
2. any other is converted into the base currency when a rate between them is configured, else
   into the first (by code) covered currency that has one; each unit price is converted and
   rounded half-up to the target's minor units once, and the quote says how
   (:class:`~offerengine.commerce.core._model.Exchange`);
3. without such a rate the basket is refused, naming ``currency``: a 422, nothing stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

import msgspec

from offerengine import money
from offerengine.commerce.core._model import Basket, Exchange
from offerengine.errors import FieldError, Invalid, raise_if_any

# Units of the second currency per unit of the first, or None without a configured rate.
RateOf = Callable[[str, str], Decimal | None]


def priced_in(
    asked: str, *, base: str, covered: Iterable[str], rate_of: RateOf, version: int
) -> Exchange | None:
    """How a basket in ``asked`` is to be priced: None when as it is, else the exchange into a
    covered currency; :class:`Invalid` naming ``currency`` when there is none (steps 1-3)."""
    covered = set(covered)
    if asked == base or asked in covered:
        return None
    for target in (base, *sorted(covered - {base})):
        rate = rate_of(asked, target)
        if rate is not None:
            return Exchange(asked, target, rate, version)
    rules = ", ".join(sorted(covered | {base}))
    raise Invalid.field(
        ("body", "currency"),
        f"the marketplace's rules price in {rules}, not {asked}, and no exchange rate from "
        f"{asked} to {base} is configured: quote in {base}, or add the rate to the fare "
        "settings' exchange_rates",
        "currency_not_covered",
    )


def convert(basket: Basket, exchange: Exchange) -> Basket:
    """``basket`` in the exchange's target currency: each unit price converted and rounded;
    422 naming the item when a converted price is too large to store."""
    target, rate = exchange.target, exchange.rate
    rounded = money.quantizer(target)
    items = []
    errors = []
    for i, item in enumerate(basket.items):
        price = item.unit_price * rate
        if not money.within(price, target):
            errors.append(
                FieldError(("body", "items", i, "unit_price"), f"too large once in {target}")
            )
            continue
        items.append(msgspec.structs.replace(item, unit_price=rounded(price)))
    raise_if_any(errors)
    return msgspec.structs.replace(basket, currency=target, items=tuple(items), exchange=exchange)


def explained(exchange: Exchange) -> str:
    """The quote's note on its exchange."""
    rate = money.plain(exchange.rate)
    return (
        f"Priced in {exchange.target}: no rule prices in {exchange.source}; unit prices were "
        f"converted at 1 {exchange.source} = {rate} {exchange.target} (the tenant's exchange "
        f"rates, fare settings version {exchange.version}) and rounded to the "
        f"{exchange.target} minor unit."
    )
