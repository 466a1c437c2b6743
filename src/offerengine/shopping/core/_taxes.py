"""Taxes and fees on a fare: each rule of the fare settings that matches the origin or the
destination airport or country adds, per passenger of its types, a percentage of the fare or a
fixed amount (converted to the selling currency). They depend on the fare item alone, so they are
worked out once per fare (flight, cabin and fare family) and memo."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from offerengine import money
from offerengine.inventory.core import FlightFacts
from offerengine.shopping.core._config import HUNDRED, ZERO
from offerengine.shopping.core._currency import SellingCurrency
from offerengine.shopping.core._shop import Memo


@dataclass(frozen=True, slots=True)
class FareTaxes:
    """The taxes on a fare as shown, their total, and what one passenger of each type pays."""

    shown: list[dict[str, Any]]
    total: Decimal
    per_passenger: dict[str, Decimal]


def fare_taxes(
    flight: FlightFacts,
    fare_item: dict[str, Any],
    currency: SellingCurrency,
    countries: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The taxes on the fare item, as shown."""
    cur = currency.code
    out = []
    for tax in currency.fares.taxes:
        airport = flight.origin if tax.applies_to == "DEPARTURE" else flight.destination
        if not tax.matches(airport, countries.get(airport)):
            continue
        per_passenger = []
        amount = ZERO
        for row in fare_item["passengers"]:
            if row["type"] not in tax.passenger_types:
                continue
            if tax.kind == "PERCENTAGE":
                unit = money.quantize(Decimal(row["unit_price"]) * tax.amount / HUNDRED, cur)
            else:
                unit = currency.convert(tax.amount, tax.currency or cur)
            per_passenger.append(
                {"type": row["type"], "count": row["count"], "unit_amount": str(unit)}
            )
            amount += unit * row["count"]
        if per_passenger:
            out.append(
                {
                    "code": tax.code,
                    "name": tax.name,
                    "kind": tax.kind,
                    "rate": money.plain(tax.amount) if tax.kind == "PERCENTAGE" else None,
                    "airport": airport,
                    "amount": str(amount),
                    "per_passenger": per_passenger,
                }
            )
    return out


class Taxes:
    """One search's taxes per fare, kept in the memo."""

    def __init__(
        self,
        currency: SellingCurrency,
        countries: Mapping[str, str],
        kinds: Sequence[str],
        memo: Memo,
    ) -> None:
        self.currency = currency
        self.countries = countries
        self.kinds = kinds
        self._cache = memo.taxes

    def of(self, flight: FlightFacts, cabin: str, fare_item: dict[str, Any]) -> FareTaxes:
        key = (flight.id, cabin, fare_item.get("fare_family"))
        found = self._cache.get(key)
        if found is None:
            taxes = fare_taxes(flight, fare_item, self.currency, self.countries)
            units = dict.fromkeys(self.kinds, ZERO)
            for tax in taxes:
                for row in tax["per_passenger"]:
                    units[row["type"]] += Decimal(row["unit_amount"])
            found = FareTaxes(taxes, sum((Decimal(t["amount"]) for t in taxes), ZERO), units)
            self._cache[key] = found
        return found
