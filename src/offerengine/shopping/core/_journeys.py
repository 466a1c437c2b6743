"""Journeys and their itineraries: what a search of one to four slices asks, and the nonstops and
connections the tenant's schedules can fly for each slice.

The connection index (:class:`Connections`) is built once per snapshot from the flight index:
departures by airport and local day (a slice's first legs) and by airport in departure order
(the legs that connect), and the great-circle distance of every pair of airports served. A slice's
itineraries (:func:`itineraries`) are found by a bounded depth-first walk:

1. First legs: the flights leaving the slice's origin on its local date.
2. A leg that lands at the destination ends an itinerary; otherwise, with stops left
   (``max_stops``, at most two), the walk continues with the flights leaving the arrival airport
   between its minimum and maximum connection times (per airport, else the defaults), found by
   bisection over that airport's departures.
3. Routing limit: the distance flown so far plus the great-circle distance still to go must stay
   within ``routing_ratio`` × the origin-destination distance (the triangle inequality makes this a
   safe prune: an itinerary over the limit is never completed), and no airport is visited twice.
4. The itineraries are ordered by elapsed time, then stops, then departure, and the first
   ``max_itineraries`` are kept.

Nothing here reads stock: which itineraries have seats is for the offers to find out.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from offerengine.inventory.core import FlightFacts

ONE_WAY, ROUND_TRIP, OPEN_JAW, MULTI_CITY = "one_way", "round_trip", "open_jaw", "multi_city"
JOURNEY_TYPES = (ONE_WAY, ROUND_TRIP, OPEN_JAW, MULTI_CITY)
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class Slice:
    """One slice of a journey: from an origin to a destination on a local date, or on a date up to
    ``days`` either side of it."""

    origin: str
    destination: str
    day: date
    days: int = 0
    fare_family: str | None = None  # the family its fares sell in (None: the search's)

    def dates(self) -> list[date]:
        """The slice's dates, its own first, then nearest first (earlier before later)."""
        out = [self.day]
        for n in range(1, self.days + 1):
            out += [self.day - timedelta(days=n), self.day + timedelta(days=n)]
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "destination": self.destination,
            "date": self.day.isoformat(),
            "days": self.days,
            **({"fare_family": self.fare_family} if self.fare_family is not None else {}),
        }


def journey_type(slices: Sequence[Slice]) -> str:
    """one_way (one slice), round_trip (there and back), open_jaw (two slices otherwise) or
    multi_city (three or four)."""
    if len(slices) == 1:
        return ONE_WAY
    if len(slices) == 2:
        out, back = slices
        if back.origin == out.destination and back.destination == out.origin:
            return ROUND_TRIP
        return OPEN_JAW
    return MULTI_CITY


@dataclass(frozen=True, slots=True)
class ConnectionTime:
    """The least and most minutes between landing at an airport and leaving it again."""

    minimum: int
    maximum: int


@dataclass(frozen=True, slots=True)
class ConnectionRules:
    """How connections are built (the tenant's connection rules, or these defaults)."""

    default: ConnectionTime = ConnectionTime(60, 360)
    airports: Mapping[str, ConnectionTime] = field(default_factory=dict)
    max_stops: int = 2
    routing_ratio: float = 1.6
    max_itineraries: int = 12
    alternative_days: int = 3  # how far out of stock searches look for other dates
    version: int = 0

    def at(self, airport: str) -> ConnectionTime:
        return self.airports.get(airport, self.default)


def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The haversine distance between two (latitude, longitude) points, in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Itinerary:
    """One way to fly a slice: its flights in order (one for a nonstop)."""

    segments: tuple[FlightFacts, ...]
    distance_km: float

    @property
    def stops(self) -> int:
        return len(self.segments) - 1

    @property
    def first(self) -> FlightFacts:
        return self.segments[0]

    @property
    def last(self) -> FlightFacts:
        return self.segments[-1]

    @property
    def elapsed(self) -> timedelta:
        return self.last.arrival_at - self.first.departure_at

    @property
    def via(self) -> tuple[str, ...]:
        return tuple(f.destination for f in self.segments[:-1])

    def key(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.segments)

    def summary(self) -> dict[str, Any]:
        return {
            "origin": self.first.origin,
            "destination": self.last.destination,
            "date": self.first.departure_date.isoformat(),
            "departure_at": self.first.departure_at.isoformat(),
            "arrival_at": self.last.arrival_at.isoformat(),
            "stops": self.stops,
            "via": list(self.via),
            "duration_minutes": int(self.elapsed.total_seconds() // 60),
            "distance_km": round(self.distance_km),
        }


@dataclass(frozen=True, slots=True)
class _Departures:
    """One airport's departures in UTC departure order, with their times for bisection."""

    flights: tuple[FlightFacts, ...]
    times: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Connections:
    """The snapshot's connection index: departures by airport and local day, by airport in
    departure order, and the great-circle distance between every two airports served."""

    by_airport_day: Mapping[tuple[str, date], tuple[FlightFacts, ...]]
    by_airport: Mapping[str, _Departures]
    distances: Mapping[tuple[str, str], float]

    @classmethod
    def build(
        cls, flights: Iterable[FlightFacts], coordinates: Mapping[str, tuple[float, float]]
    ) -> Connections:
        """Index the scheduled ``flights``; ``coordinates`` are (latitude, longitude) by airport."""
        by_day: dict[tuple[str, date], list[FlightFacts]] = {}
        by_airport: dict[str, list[FlightFacts]] = {}
        for flight in flights:
            if flight.status != "scheduled":
                continue
            by_day.setdefault((flight.origin, flight.departure_date), []).append(flight)
            by_airport.setdefault(flight.origin, []).append(flight)

        def order(f: FlightFacts) -> tuple[datetime, str, str]:
            return (f.departs, f.carrier, f.flight_number)

        departures = {}
        for airport, found in by_airport.items():
            ordered = tuple(sorted(found, key=order))
            departures[airport] = _Departures(
                ordered, tuple(f.departs.timestamp() for f in ordered)
            )
        codes = sorted(coordinates)
        distances = {
            (a, b): great_circle_km(coordinates[a], coordinates[b]) for a in codes for b in codes
        }
        return cls(
            MappingProxyType({k: tuple(sorted(v, key=order)) for k, v in by_day.items()}),
            MappingProxyType(departures),
            MappingProxyType(distances),
        )

    @classmethod
    def empty(cls) -> Connections:
        return cls.build((), {})

    def distance(self, a: str, b: str) -> float:
        """Great-circle kilometres between two airports (0 when either has no coordinates)."""
        return self.distances.get((a, b), 0.0)

    def leaving(self, airport: str, after: datetime, rule: ConnectionTime) -> Sequence[FlightFacts]:
        """The flights leaving ``airport`` within ``rule`` of landing there at ``after``."""
        found = self.by_airport.get(airport)
        if found is None:
            return ()
        landed = after.timestamp()
        start = bisect.bisect_left(found.times, landed + rule.minimum * 60)
        stop = bisect.bisect_right(found.times, landed + rule.maximum * 60)
        return found.flights[start:stop]


def itineraries(
    index: Connections, rules: ConnectionRules, origin: str, destination: str, day: date
) -> list[Itinerary]:
    """The slice's itineraries leaving ``origin`` on the local date ``day``: nonstops and
    connections within the connection times and the routing limit, best first (see the module)."""
    direct = index.distance(origin, destination)
    limit = rules.routing_ratio * direct if direct > 0 else math.inf
    found: list[Itinerary] = []
    stops = min(rules.max_stops, 2)

    def walk(path: tuple[FlightFacts, ...], flown: float, seen: frozenset[str]) -> None:
        here = path[-1].destination
        if here == destination:
            found.append(Itinerary(path, flown))
            return
        if len(path) > stops:
            return
        for leg in index.leaving(here, path[-1].arrival_at, rules.at(here)):
            ahead = leg.destination
            if ahead in seen:
                continue
            total = flown + index.distance(here, ahead)
            if total + index.distance(ahead, destination) > limit:
                continue
            walk((*path, leg), total, seen | {ahead})

    for first in index.by_airport_day.get((origin, day), ()):
        ahead = first.destination
        if ahead == origin:
            continue
        flown = index.distance(origin, ahead)
        if flown + index.distance(ahead, destination) > limit:
            continue
        walk((first,), flown, frozenset((origin, ahead)))
    found.sort(key=lambda i: (i.elapsed, i.stops, i.first.departs, i.key()))
    return found[: rules.max_itineraries]
