"""Airports, from the ``airportsdata`` package (loaded once, on first use, never at import)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

import airportsdata


@dataclass(frozen=True, slots=True)
class AirportFacts:
    iata: str
    name: str
    city: str
    country: str
    timezone: str
    latitude: float
    longitude: float


@cache
def _iata_table() -> Mapping[str, Mapping[str, object]]:
    return MappingProxyType(airportsdata.load("IATA"))


def lookup(iata: str) -> AirportFacts | None:
    """The airport with this IATA code, or None if the code is not a known airport."""
    row = _iata_table().get(iata.upper())
    if row is None:
        return None
    return AirportFacts(
        iata=str(row["iata"]),
        name=str(row["name"]),
        city=str(row["city"]),
        country=str(row["country"]),
        timezone=str(row["tz"]),
        latitude=float(str(row["lat"])),
        longitude=float(str(row["lon"])),
    )


@dataclass(frozen=True, slots=True)
class Network:
    """The airports a tenant serves, by IATA code."""

    airports: Mapping[str, AirportFacts]

    @classmethod
    def build(cls, airports: Iterable[AirportFacts]) -> Network:
        return cls(MappingProxyType({a.iata: a for a in sorted(airports, key=lambda a: a.iata)}))
