"""Fees and taxes: which rule applies where, distance bands, and the great-circle distance.

Region matching for fee rules: a rule for the delivery city, else one for its country, else one
without a region. Tax rules prefer the item's category first (a category rule anywhere in the
country beats a general rule of the city), then the region in the same order. Among rules that
match equally, the highest ``priority``, then the newest version.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from offerengine.commerce.core._effective import InForce
from offerengine.commerce.core._model import Address, FeeRuleState, FeeType

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)


def _first(
    listed: tuple[FeeRuleState, ...] | None, flags: Mapping[str, Any]
) -> FeeRuleState | None:
    if not listed:
        return None
    return next((f for f in listed if f.flag is None or flags.get(f.flag)), None)


def best_fee(
    index: InForce,
    *,
    currency: str,
    type: FeeType,
    city: str | None,
    country: str | None,
    flags: Mapping[str, Any],
) -> FeeRuleState | None:
    for region in (city, country, None):
        found = _first(index.fees.get((currency, type, region)), flags)
        if found is not None:
            return found
    return None


def currencies_with(
    index: InForce,
    *,
    type: FeeType,
    city: str | None,
    country: str | None,
    flags: Mapping[str, Any],
) -> list[str]:
    """The currencies in which a fee rule of ``type`` applies to the destination, sorted."""
    return sorted(
        {
            currency
            for (currency, kind, region), listed in index.fees.items()
            if kind == type and region in (city, country, None) and _first(listed, flags)
        }
    )


def best_tax(
    index: InForce,
    *,
    currency: str,
    city: str | None,
    country: str | None,
    category: str | None,
    flags: Mapping[str, Any],
) -> FeeRuleState | None:
    for cat in (category, None) if category is not None else (None,):
        for region in (city, country, None):
            found = _first(index.taxes.get((currency, region, cat)), flags)
            if found is not None:
                return found
    return None


@dataclass(frozen=True, slots=True)
class Destination:
    """The fee rules that apply to a destination (a currency, city and country)."""

    delivery: FeeRuleState | None
    distance: FeeRuleState | None
    express: FeeRuleState | None
    small_basket: FeeRuleState | None
    free_delivery: FeeRuleState | None
    general_tax: FeeRuleState | None
    taxes: dict[str | None, FeeRuleState | None]  # by item category, filled as met


def destination(
    index: InForce,
    *,
    currency: str,
    city: str | None,
    country: str | None,
    flags: Mapping[str, Any],
    signature: tuple[bool, ...],
) -> Destination:
    """The fee rules for a destination, found once per interval (and flag signature)."""
    memo_key = ("destination", currency, city, country, signature)
    found = index.memo.get(memo_key)
    if found is None:

        def fee(type_: FeeType) -> FeeRuleState | None:
            return best_fee(
                index, currency=currency, type=type_, city=city, country=country, flags=flags
            )

        found = Destination(
            delivery=fee("DELIVERY_FEE"),
            distance=fee("DISTANCE_FEE"),
            express=fee("EXPRESS_FEE"),
            small_basket=fee("SMALL_BASKET_FEE"),
            free_delivery=fee("FREE_DELIVERY"),
            general_tax=best_tax(
                index, currency=currency, city=city, country=country, category=None, flags=flags
            ),
            taxes={},
        )
        index.memo[memo_key] = found
    return found


def tax_for(
    index: InForce,
    where: Destination,
    *,
    currency: str,
    city: str | None,
    country: str | None,
    category: str | None,
    flags: Mapping[str, Any],
) -> FeeRuleState | None:
    """The tax rule of an item's category at a destination (remembered with the destination)."""
    if category in where.taxes:
        return where.taxes[category]
    found = best_tax(
        index, currency=currency, city=city, country=country, category=category, flags=flags
    )
    where.taxes[category] = found
    return found


def distance_km(a: Address, b: Address) -> Decimal | None:
    """The haversine distance between two addresses with coordinates, to the metre."""
    if a.latitude is None or a.longitude is None or b.latitude is None or b.longitude is None:
        return None
    lat1, lon1, lat2, lon2 = (
        math.radians(v) for v in (a.latitude, a.longitude, b.latitude, b.longitude)
    )
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    km = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
    return Decimal(f"{km:.3f}")


def band(config: Mapping[str, Any], km: Decimal) -> tuple[Decimal, str] | None:
    """The fee of the first band that ``km`` is within, and how it was found; None beyond the
    last band (when the last band has a bound)."""
    lower = Decimal(0)
    for found in config["bands"]:
        up_to = found["up_to_km"]
        if up_to is None or km <= up_to:
            where = f"over {lower} km" if up_to is None else f"{lower}–{up_to} km"
            return found["fee"], f"{km} km, in the band {where}"
        lower = up_to
    return None
