"""The compiled shopping configuration: offer rules, fare settings (passenger ratios, taxes and
fees, exchange rates) and the snapshot section that holds them with the flights and bundles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from offerengine import money
from offerengine.bundles.core import BundleIndex
from offerengine.inventory.core import FlightIndex, InventoryPolicy
from offerengine.learning.policy import ContextualDef, ShopLearner
from offerengine.shopping.core._families import FareFamilies
from offerengine.shopping.core._journeys import ConnectionRules, Connections

FLIGHT_ONLY = "FLIGHT_ONLY"
PASSENGER_TYPES = ("ADULT", "CHILD", "INFANT")
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
_C = money.MONEY_CONTEXT


@dataclass(frozen=True, slots=True)
class OfferType:
    type: str
    priority: int
    always_include: bool = False


@dataclass(frozen=True, slots=True)
class OfferRules:
    """Seed 001's "Standard Offer Mix". With no offer types configured, every active bundle type
    is offered after FLIGHT_ONLY."""

    max_offers: int = 5
    offer_types: tuple[OfferType, ...] | None = None
    w_conversion: Decimal = Decimal("0.6")
    w_margin: Decimal = Decimal("0.4")
    expiry_minutes: int = 15
    version: int = 0
    contextual: ContextualDef | None = None  # the conversion model's bandit
    shadow: ContextualDef | None = None  # a candidate conversion model, scoring alongside
    # The offer type raised when seats run low (the seed's "Low Stock → Generate Priority
    # Offer"): its best offer on a flight whose cabin is below the inventory rule's threshold is
    # always shown, first.
    low_inventory_offer: str | None = None

    def types(self, bundles: BundleIndex) -> tuple[OfferType, ...]:
        if self.offer_types is not None:
            return self.offer_types
        defaults = [OfferType(FLIGHT_ONLY, 1, True)]
        for i, bundle_type in enumerate(sorted(bundles.by_type), start=2):
            defaults.append(OfferType(bundle_type, i))
        return tuple(defaults)


@dataclass(frozen=True, slots=True)
class TaxRule:
    code: str
    name: str
    kind: str  # PERCENTAGE (of the fare) | FIXED (per passenger)
    amount: Decimal
    currency: str | None = None  # FIXED amounts
    airport: str | None = None
    country: str | None = None
    applies_to: str = "DEPARTURE"  # DEPARTURE | ARRIVAL
    passenger_types: frozenset[str] = frozenset(PASSENGER_TYPES)

    def matches(self, airport: str, country: str | None) -> bool:
        if self.airport is not None:
            return self.airport == airport
        return self.country is None or self.country == country


@dataclass(frozen=True, slots=True)
class FareSettings:
    child_ratio: Decimal = Decimal("0.75")
    infant_ratio: Decimal = Decimal("0.10")
    taxes: tuple[TaxRule, ...] = ()
    rates: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    version: int = 0

    def rate(self, source: str, target: str) -> Decimal | None:
        """Units of ``target`` per unit of ``source``: given, or the inverse of a given rate."""
        if source == target:
            return ONE
        found = self.rates.get((source, target))
        if found is not None:
            return found
        inverse = self.rates.get((target, source))
        return None if inverse is None else _C.divide(ONE, inverse)

    def ratio(self, passenger_type: str) -> Decimal:
        if passenger_type == "CHILD":
            return self.child_ratio
        if passenger_type == "INFANT":
            return self.infant_ratio
        return ONE


def rate_table(rows: Iterable[Mapping[str, Any]]) -> Mapping[tuple[str, str], Decimal]:
    return MappingProxyType({(r["from"], r["to"]): Decimal(str(r["rate"])) for r in rows})


# --- the snapshot section


@dataclass(frozen=True, slots=True)
class ShoppingConfig:
    flights: FlightIndex
    bundles: BundleIndex
    policy: InventoryPolicy
    rules: OfferRules
    fares: FareSettings
    countries: Mapping[str, str]
    webhook: str | None = None
    # Whether some limited product is counted per airport and day (a lounge): then a search
    # also reads the counters of its flights' origin airport-days.
    per_airport_day: bool = False
    # The offer rules' conversion model, over their offer types (None: Beta-Binomial only).
    learner: ShopLearner | None = None
    # Journeys: departures by airport and day and the distances between airports, and how
    # connections are built (the tenant's connection rules).
    connections: Connections = field(default_factory=Connections.empty)
    connection_rules: ConnectionRules = field(default_factory=ConnectionRules)
    # Branded fares: the tenant's active fare family sets, by cabin and route.
    fare_families: FareFamilies = field(default_factory=FareFamilies)

    @classmethod
    def empty(cls) -> ShoppingConfig:
        """No flights, bundles or rules: the defaults."""
        return cls(
            FlightIndex.build([]),
            BundleIndex.build([]),
            InventoryPolicy.build([]),
            OfferRules(),
            FareSettings(),
            {},
        )
