"""Commission: which rate applies to an item, and what it earns.

For each of the three components (seller, category, logistics) an item resolves on its own: among
the rates in force for the quote's currency whose set dimensions all match the item (a dimension
left unset matches anything), the highest ``priority`` wins; ties go to the most specific rate
(more dimensions set; then seller before category before logistics before region, and a city
before a country); ties then go to the newest version. A rate that names a ``flag`` takes part
only when that flag is on for the customer.

Amounts: ``PERCENTAGE`` is ``rate`` percent of the item's value; ``FLAT`` is ``rate`` per unit;
``TIERED`` is progressive like tax brackets: each tier's rate applies to the part of the item's
value within that tier (``[{up_to: 100, rate: 10}, {up_to: null, rate: 5}]`` on 150 earns
10 + 2.50). ``min_amount``/``max_amount`` bound the result, which is rounded half-up to the
currency's minor units once per item and component.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from offerengine import money
from offerengine.commerce.core._effective import InForce
from offerengine.commerce.core._model import COMPONENTS, HUNDRED, ZERO, Component, RateState


def _on(flag: str | None, flags: Mapping[str, Any]) -> bool:
    return flag is None or bool(flags.get(flag))


def memo_key(*values: Any) -> tuple[Any, ...]:
    """Where :func:`resolve` remembers a resolution: (currency, seller, category, logistics, city,
    country, signature)."""
    return values


def resolve(
    index: InForce,
    *,
    currency: str,
    seller: str | None,
    category: str | None,
    logistics: str | None,
    city: str | None,
    country: str | None,
    flags: Mapping[str, Any],
    signature: tuple[bool, ...],
) -> tuple[tuple[Component, RateState], ...]:
    """The rate of each component that applies to an item with these (key()-normalised) values;
    ``signature`` is the truth of the flags rules read (resolutions are shared while it holds)."""
    found_key = memo_key(currency, seller, category, logistics, city, country, signature)
    found = index.memo.get(found_key)
    if found is None:
        found = tuple(
            (component, rate)
            for component in COMPONENTS
            if (
                rate := _best(
                    index, currency, component, seller, category, logistics, city, country, flags
                )
            )
            is not None
        )
        index.memo[found_key] = found
    return found


def _best(
    index: InForce,
    currency: str,
    component: Component,
    seller: str | None,
    category: str | None,
    logistics: str | None,
    city: str | None,
    country: str | None,
    flags: Mapping[str, Any],
) -> RateState | None:
    best: RateState | None = None
    best_rank: tuple[Any, ...] | None = None
    rates = index.rates
    for has_seller, has_category, has_logistics, has_region in index.shapes.get(
        (currency, component), ()
    ):
        if (
            (has_seller and seller is None)
            or (has_category and category is None)
            or (has_logistics and logistics is None)
        ):
            continue
        s = seller if has_seller else None
        c = category if has_category else None
        lg = logistics if has_logistics else None
        for region, level in ((city, 2), (country, 1)) if has_region else ((None, 0),):
            if region is None and level:
                continue
            listed = rates.get((currency, component, s, c, lg, region))
            if not listed:
                continue
            state = next((r for r in listed if _on(r.flag, flags)), None)
            if state is None:
                continue
            rank = (
                state.priority,
                state.dimensions,
                has_seller,
                has_category,
                has_logistics,
                level,
                state.changed_at,
                state.version,
                state.id,  # a UUID orders as its text does (fixed-width hex): no text made
            )
            if best_rank is None or rank > best_rank:
                best, best_rank = state, rank
    return best


def tiered(value: Decimal, tiers: tuple[Any, ...]) -> Decimal:
    """Progressive brackets over ``value`` (see the module docstring)."""
    earned = ZERO
    lower = ZERO
    for tier in tiers:
        upper = value if tier.up_to is None else min(value, tier.up_to)
        if upper > lower:
            earned += (upper - lower) * tier.rate / HUNDRED
        if tier.up_to is None or value <= tier.up_to:
            break
        lower = tier.up_to
    return earned


def amount(rate: RateState, base: Decimal, quantity: int) -> tuple[Decimal, str]:
    """What ``rate`` earns on an item of value ``base`` and ``quantity`` units, with how."""
    kind = rate.commission_type
    if kind == "PERCENTAGE":
        assert rate.rate is not None
        raw = base * rate.rate / HUNDRED
        how = f"{rate.how} of {base!s}"  # !s: str() is quicker than Decimal's __format__
    elif kind == "FLAT":
        assert rate.rate is not None
        raw = rate.rate * quantity
        how = f"{rate.how} × {quantity}"
    else:
        raw = tiered(base, rate.tiers)
        how = f"{rate.how} over {base!s}"
    if rate.min_amount is not None and raw < rate.min_amount and base > 0:
        raw = rate.min_amount
        how += f", raised to the minimum {money.show(rate.min_amount, rate.currency)}"
    if rate.max_amount is not None and raw > rate.max_amount:
        raw = rate.max_amount
        how += f", capped at the maximum {money.show(rate.max_amount, rate.currency)}"
    return money.MONEY_CONTEXT.quantize(raw, rate.unit), how  # money.quantize, inline
