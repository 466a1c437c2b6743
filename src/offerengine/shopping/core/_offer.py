"""What a search makes of a flight: a candidate offer, the inventory units an order of it must
hold, and why a flight could not make an offer type; and a search's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from offerengine.bundles.core import BundleFacts
from offerengine.inventory.core import FlightFacts, ResourceKey
from offerengine.shopping.core._config import OfferType

if TYPE_CHECKING:  # a journey offer's parts are made from candidates' parts
    from offerengine.shopping.core._family_grid import PendingGrid
    from offerengine.shopping.core._journey_offers import JourneyParts


@dataclass(frozen=True, slots=True)
class Need:
    """Inventory units an order of this offer must hold."""

    key: ResourceKey
    quantity: int
    capacity: int

    def as_json(self) -> dict[str, Any]:
        return {
            "scope": self.key.scope,
            "resource_type": self.key.resource_type,
            "resource": self.key.resource,
            "quantity": self.quantity,
            "capacity": self.capacity,
        }


@dataclass(slots=True)
class Candidate:
    offer_type: OfferType
    flight: FlightFacts
    bundle: BundleFacts | None
    cabin: str
    items: list[dict[str, Any]]
    omitted: list[dict[str, str]]
    needs: list[Need]
    price: dict[str, Any]
    total: Decimal
    margin: float
    conversion: float
    low_stock: list[str]
    score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    items_json: bytes = b""  # ``items`` as JSON, from pieces encoded once per memo
    flight_json: bytes = b""  # the flight's summary as JSON, likewise
    journey: JourneyParts | None = None  # a journey offer's slices (``flight`` is its first)
    fare_families: PendingGrid | None = None  # its cabin in every fare family (one-way offers)
    fare_family: str | None = None  # the family its fare sells in


class Dropped(Exception):
    """This flight cannot make this offer type; the message says why."""


@dataclass(frozen=True, slots=True)
class Result:
    offers: list[Candidate]
    warnings: list[str]
