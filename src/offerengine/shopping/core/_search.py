"""What a customer searches for: the route, the day, the party and who is asking; and the search
as stored with its offers, to price them again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from offerengine.shopping.core._config import PASSENGER_TYPES
from offerengine.shopping.core._journeys import Slice, journey_type


@dataclass(frozen=True, slots=True)
class Passengers:
    adults: int = 1
    children: int = 0
    infants: int = 0

    @property
    def seated(self) -> int:
        return self.adults + self.children

    def counts(self) -> tuple[tuple[str, int], ...]:
        return tuple(
            (kind, n)
            for kind, n in zip(
                PASSENGER_TYPES, (self.adults, self.children, self.infants), strict=True
            )
            if n
        )


@dataclass(frozen=True, slots=True)
class Search:
    origin: str
    destination: str
    day: date
    passengers: Passengers
    currency: str
    cabin: str = "ECONOMY"
    customer: Mapping[str, Any] = field(default_factory=dict)
    channel: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    # A journey's slices (the first is origin, destination and day); empty for a search of the
    # one-way shape, which shops nonstop flights as it always has.
    slices: tuple[Slice, ...] = ()
    # The fare family to sell (a journey's slice may name its own); None: each set's default.
    fare_family: str | None = None

    @property
    def journey(self) -> str | None:
        """The journey type of a search given in slices; None for the one-way shape."""
        return journey_type(self.slices) if self.slices else None

    @property
    def segment(self) -> str:
        return str(self.customer.get("segment") or "*")

    def basis(self) -> dict[str, Any]:
        """The search as stored with its offers, to price them again."""
        basis: dict[str, Any] = {
            "origin": self.origin,
            "destination": self.destination,
            "date": self.day.isoformat(),
            "passengers": {
                "adults": self.passengers.adults,
                "children": self.passengers.children,
                "infants": self.passengers.infants,
            },
            "cabin": self.cabin,
            "customer": dict(self.customer),
            "channel": self.channel,
            "currency": self.currency,
            "context": dict(self.context),
        }
        if self.fare_family is not None:
            basis["fare_family"] = self.fare_family
        if self.slices:
            basis["journey"] = self.journey
            basis["slices"] = [s.as_json() for s in self.slices]
        return basis


def search_of(basis: Mapping[str, Any]) -> Search:
    pax = basis["passengers"]
    return Search(
        origin=basis["origin"],
        destination=basis["destination"],
        day=date.fromisoformat(basis["date"]),
        passengers=Passengers(pax["adults"], pax["children"], pax["infants"]),
        currency=basis["currency"],
        cabin=basis["cabin"],
        customer=basis.get("customer") or {},
        channel=basis.get("channel"),
        context=basis.get("context") or {},
        slices=tuple(
            Slice(
                s["origin"],
                s["destination"],
                date.fromisoformat(s["date"]),
                int(s["days"]),
                s.get("fare_family"),
            )
            for s in basis.get("slices") or ()
        ),
        fare_family=basis.get("fare_family"),
    )
