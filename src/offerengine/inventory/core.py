"""Flights and inventory as plain data: the flight index of a snapshot, the inventory rules, and
what can be sold.

Sellable units of a resource = floor(capacity × (1 + overbooking% / 100)) − sold − held. The same
bound is the condition of the SQL update that holds units (see ``inventory.service``), written in
integers as ``sold + held + n <= capacity * (10000 + overbooking_bp) / 10000`` so that SQLite and
PostgreSQL agree exactly with this module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from offerengine.catalog.core import ProductFacts

if TYPE_CHECKING:
    from offerengine.revenue.core.controls import CabinControls

SEAT = "SEAT"  # the resource type of a flight's cabin seats


@dataclass(frozen=True, slots=True)
class FlightFacts:
    id: uuid.UUID
    carrier: str
    flight_number: str
    origin: str
    destination: str
    departure_date: date
    departure_local: str
    arrival_local: str
    departure_at: datetime  # aware, in the origin's zone
    arrival_at: datetime
    aircraft: str | None
    cabins: Mapping[str, int]
    ancillary_capacity: Mapping[str, int]
    status: str = "scheduled"
    # Worked out once: searches compare departures and name flights and their scopes for every
    # candidate offer, and aware times in different zones compare through their offsets.
    key: str = field(init=False, compare=False, repr=False)  # the id as text
    scope: str = field(init=False, compare=False, repr=False)  # where its seats are counted
    departs: datetime = field(init=False, compare=False, repr=False)  # departure_at in UTC

    def __post_init__(self) -> None:
        key = str(self.id)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "scope", f"flight:{key}")
        object.__setattr__(self, "departs", self.departure_at.astimezone(UTC))

    @property
    def day_scope(self) -> str:
        """Where units counted per airport and day (a lounge) live for this flight's passengers."""
        return f"airport:{self.origin}:{self.departure_date.isoformat()}"

    def summary(self) -> dict[str, Any]:
        return {
            "flight_id": self.key,
            "carrier": self.carrier,
            "flight_number": self.flight_number,
            "marketing": f"{self.carrier}{self.flight_number}",
            "origin": self.origin,
            "destination": self.destination,
            "departure_local": self.departure_local,
            "arrival_local": self.arrival_local,
            "departure_at": self.departure_at.isoformat(),
            "arrival_at": self.arrival_at.isoformat(),
            "aircraft": self.aircraft,
        }


@dataclass(frozen=True, slots=True)
class FlightIndex:
    """Scheduled flights by (origin, destination, local departure date), in departure order."""

    by_route_date: Mapping[tuple[str, str, date], tuple[FlightFacts, ...]]
    by_id: Mapping[uuid.UUID, FlightFacts]

    @classmethod
    def build(cls, flights: Iterable[FlightFacts]) -> FlightIndex:
        grouped: dict[tuple[str, str, date], list[FlightFacts]] = {}
        by_id: dict[uuid.UUID, FlightFacts] = {}
        for flight in flights:
            by_id[flight.id] = flight
            if flight.status == "scheduled":
                key = (flight.origin, flight.destination, flight.departure_date)
                grouped.setdefault(key, []).append(flight)
        return cls(
            MappingProxyType(
                {
                    k: tuple(sorted(v, key=lambda f: (f.departure_at, f.carrier, f.flight_number)))
                    for k, v in grouped.items()
                }
            ),
            MappingProxyType(by_id),
        )

    def find(self, origin: str, destination: str, day: date) -> tuple[FlightFacts, ...]:
        return self.by_route_date.get((origin, destination, day), ())


# --- inventory rules -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InventoryRuleFacts:
    resource_type: str
    resource: str | None = None
    hold_duration_seconds: int = 900
    overbooking_percentage: Decimal = Decimal(0)
    min_availability_threshold: int = 0
    notify_on_low_inventory: bool = False
    id: uuid.UUID | None = None
    version: int = 0

    @property
    def overbooking_bp(self) -> int:
        """Overbooking in basis points (5.00 % → 500): the integer the SQL condition uses."""
        return int(self.overbooking_percentage * 100)


DEFAULT_RULE = InventoryRuleFacts(resource_type="*")


@dataclass(frozen=True, slots=True)
class InventoryPolicy:
    """The active inventory rules; the most specific one governs a resource."""

    rules: Mapping[tuple[str, str | None], InventoryRuleFacts]

    @classmethod
    def build(cls, rules: Iterable[InventoryRuleFacts]) -> InventoryPolicy:
        return cls(MappingProxyType({(r.resource_type, r.resource): r for r in rules}))

    def rule_for(self, resource_type: str, resource: str) -> InventoryRuleFacts:
        found = self.rules.get((resource_type, resource)) or self.rules.get((resource_type, None))
        return found or DEFAULT_RULE


def limit(capacity: int, overbooking_bp: int) -> int:
    """The most units that may be sold and held together: capacity plus overbooking, floored."""
    return capacity * (10000 + overbooking_bp) // 10000


@dataclass(frozen=True, slots=True)
class Stock:
    """One resource's counters as last read; a flight cabin with a forecast carries its booking
    controls (read with the counters, so a search needs no other read)."""

    capacity: int
    sold: int = 0
    held: int = 0
    controls: CabinControls | None = None

    def sellable(self, rule: InventoryRuleFacts) -> int:
        return max(0, limit(self.capacity, rule.overbooking_bp) - self.sold - self.held)

    def utilization(self) -> Decimal:
        """Sold and held over capacity, 0 to 1 (above 1 only when overbooked)."""
        if self.capacity <= 0:
            return Decimal(1)
        return Decimal(self.sold + self.held) / Decimal(self.capacity)


@dataclass(frozen=True, slots=True)
class ResourceKey:
    """Where units of a resource live: ``scope`` is ``flight:<id>`` or ``airport:<IATA>:<date>``."""

    scope: str
    resource_type: str
    resource: str

    def as_tuple(self) -> tuple[str, str, str]:
        return (self.scope, self.resource_type, self.resource)


def cabin_key(flight: FlightFacts, cabin: str) -> ResourceKey:
    return ResourceKey(flight.scope, SEAT, cabin)


def availability_status(sellable: int, rule: InventoryRuleFacts) -> str:
    """``sold_out``, ``low`` (below the rule's threshold) or ``available``."""
    if sellable <= 0:
        return "sold_out"
    if sellable < rule.min_availability_threshold:
        return "low"
    return "available"


def locate(flight: FlightFacts, product: ProductFacts) -> tuple[ResourceKey, int] | None:
    """Where a limited product's units for this flight live, and their capacity; None if the
    product is not limited. A product is limited by its ``metadata.inventory`` (``{"per":
    "flight" | "airport_day", "capacity": n}``) or by the flight's ``ancillary_capacity``;
    ``airport_day`` counts units at the origin airport on the local departure date (a lounge)."""
    spec = product.attributes.get("inventory")
    override = flight.ancillary_capacity.get(product.product_code)
    if not isinstance(spec, Mapping) and override is None:
        return None
    spec = spec if isinstance(spec, Mapping) else {}
    capacity = int(override if override is not None else spec.get("capacity", 0))
    scope = flight.day_scope if spec.get("per") == "airport_day" else flight.scope
    return ResourceKey(scope, product.product_type, product.product_code), capacity
