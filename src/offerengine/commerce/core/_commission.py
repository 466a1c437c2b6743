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
from offerengine.commerce.core._model import HUNDRED, ZERO, Component, RateState

_C = money.MONEY_CONTEXT


def _on(flag: str | None, flags: Mapping[str, Any]) -> bool:
    return flag is None or bool(flags.get(flag))


def resolve(
    index: InForce,
    *,
    currency: str,
    component: Component,
    seller: str | None,
    category: str | None,
    logistics: str | None,
    city: str | None,
    country: str | None,
    flags: Mapping[str, Any],
    flag_keys: frozenset[str],
) -> RateState | None:
    """The rate of ``component`` that applies to an item with these (key()-normalised) values."""
    memo_key = (
        currency,
        component,
        seller,
        category,
        logistics,
        city,
        country,
        tuple(bool(flags.get(k)) for k in sorted(flag_keys)) if flag_keys else (),
    )
    if memo_key in index.memo:
        found: RateState | None = index.memo[memo_key]
        return found
    best: RateState | None = None
    best_rank: tuple[Any, ...] | None = None
    rates = index.rates
    for s in (seller, None) if seller is not None else (None,):
        for c in (category, None) if category is not None else (None,):
            for lg in (logistics, None) if logistics is not None else (None,):
                for region, level in ((city, 2), (country, 1), (None, 0)):
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
                        s is not None,
                        c is not None,
                        lg is not None,
                        level,
                        state.changed_at,
                        state.version,
                        str(state.id),
                    )
                    if best_rank is None or rank > best_rank:
                        best, best_rank = state, rank
    index.memo[memo_key] = best
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
    with_context = _C
    if rate.commission_type == "PERCENTAGE":
        assert rate.rate is not None
        raw = with_context.multiply(base, rate.rate) / HUNDRED
        how = f"{money.plain(rate.rate)}% of {base}"
    elif rate.commission_type == "FLAT":
        assert rate.rate is not None
        raw = rate.rate * quantity
        how = f"{money.show(rate.rate, rate.currency)} × {quantity} units"
    else:
        raw = tiered(base, rate.tiers)
        how = (
            "tiers "
            + ", ".join(
                f"{money.plain(t.rate)}% up to "
                f"{'∞' if t.up_to is None else money.show(t.up_to, rate.currency)}"
                for t in rate.tiers
            )
            + f" over {base}"
        )
    if rate.min_amount is not None and raw < rate.min_amount and base > 0:
        raw = rate.min_amount
        how += f", raised to the minimum {money.show(rate.min_amount, rate.currency)}"
    if rate.max_amount is not None and raw > rate.max_amount:
        raw = rate.max_amount
        how += f", capped at the maximum {money.show(rate.max_amount, rate.currency)}"
    return money.quantize(raw, rate.currency), how
