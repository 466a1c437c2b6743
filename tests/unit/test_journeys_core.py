"""The journey core without a database: slices and journey types, and the itineraries the
connection index builds, checked against a brute-force enumeration of every routing."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from offerengine.inventory.core import FlightFacts
from offerengine.network.core import lookup
from offerengine.shopping import core

AIRPORTS = ("BOS", "JFK", "ORD", "MIA", "LHR", "CDG", "FRA", "MAD")
COORDINATES = {
    code: (facts.latitude, facts.longitude)
    for code in AIRPORTS
    if (facts := lookup(code)) is not None
}
DAY = date(2030, 6, 1)
START = datetime(2030, 6, 1, tzinfo=UTC)


def _flight(n: int, origin: str, destination: str, leaves: int, minutes: int) -> FlightFacts:
    """A flight ``leaves`` minutes after midnight UTC on DAY (all times in UTC here)."""
    departs = START + timedelta(minutes=leaves)
    arrives = departs + timedelta(minutes=minutes)
    return FlightFacts(
        id=uuid.UUID(int=n + 1),
        carrier="OE",
        flight_number=str(100 + n),
        origin=origin,
        destination=destination,
        departure_date=departs.date(),
        departure_local=departs.isoformat(timespec="minutes"),
        arrival_local=arrives.isoformat(timespec="minutes"),
        departure_at=departs,
        arrival_at=arrives,
        aircraft=None,
        cabins={"ECONOMY": 100},
        ancillary_capacity={},
    )


flights_st = st.lists(
    st.tuples(
        st.sampled_from(AIRPORTS),
        st.sampled_from(AIRPORTS),
        st.integers(0, 36 * 60),
        st.integers(45, 9 * 60),
    ).filter(lambda t: t[0] != t[1]),
    min_size=1,
    max_size=40,
)
rules_st = st.builds(
    core.ConnectionRules,
    default=st.builds(core.ConnectionTime, st.integers(0, 120), st.integers(120, 600)),
    airports=st.dictionaries(
        st.sampled_from(AIRPORTS),
        st.builds(core.ConnectionTime, st.integers(30, 180), st.integers(180, 400)),
        max_size=3,
    ),
    max_stops=st.integers(0, 2),
    routing_ratio=st.floats(1.0, 2.5),
    max_itineraries=st.just(10_000),
)


def _brute_force(
    flights: list[FlightFacts], rules: core.ConnectionRules, origin: str, destination: str
) -> set[tuple[str, ...]]:
    """Every routing of up to ``max_stops`` stops that the rules allow, by trying them all."""
    direct = core.great_circle_km(COORDINATES[origin], COORDINATES[destination])
    found = set()
    for size in range(1, rules.max_stops + 2):
        for path in itertools.product(flights, repeat=size):
            if path[0].origin != origin or path[0].departure_date != DAY:
                continue
            if path[-1].destination != destination:
                continue
            airports = [path[0].origin] + [f.destination for f in path]
            if len(set(airports)) != len(airports):
                continue
            if any(a.destination != b.origin for a, b in itertools.pairwise(path)):
                continue
            if any(
                not (
                    rules.at(a.destination).minimum * 60
                    <= (b.departs - a.arrival_at).total_seconds()
                    <= rules.at(a.destination).maximum * 60
                )
                for a, b in itertools.pairwise(path)
            ):
                continue
            flown = sum(
                core.great_circle_km(COORDINATES[f.origin], COORDINATES[f.destination])
                for f in path
            )
            if flown > rules.routing_ratio * direct + 1e-6:
                continue
            found.add(tuple(f.key for f in path))
    return found


@settings(max_examples=150, deadline=None)
@given(flights_st, rules_st, st.sampled_from(AIRPORTS), st.sampled_from(AIRPORTS))
def test_itineraries_are_exactly_the_routings_the_rules_allow(
    rows: list[tuple[str, str, int, int]],
    rules: core.ConnectionRules,
    origin: str,
    destination: str,
) -> None:
    if origin == destination:
        return
    flights = [_flight(n, *row) for n, row in enumerate(rows)]
    index = core.Connections.build(flights, COORDINATES)
    found = core.itineraries(index, rules, origin, destination, DAY)
    assert {it.key() for it in found} == _brute_force(flights, rules, origin, destination)
    for it in found:
        assert it.stops <= rules.max_stops
        assert it.first.origin == origin
        assert it.last.destination == destination
    assert [(it.elapsed, it.stops) for it in found] == sorted(
        (it.elapsed, it.stops) for it in found
    )


def test_itineraries_keep_the_fastest_up_to_the_limit() -> None:
    flights = [
        _flight(0, "BOS", "LHR", 60, 400),  # nonstop: 400 minutes
        _flight(1, "BOS", "JFK", 0, 70),
        _flight(2, "JFK", "LHR", 200, 420),  # via JFK: 620 minutes
        _flight(3, "JFK", "LHR", 135, 410),  # 65 minutes at JFK: 545 minutes
    ]
    index = core.Connections.build(flights, COORDINATES)
    rules = core.ConnectionRules(max_itineraries=2)
    found = core.itineraries(index, rules, "BOS", "LHR", DAY)
    assert [[f.flight_number for f in it.segments] for it in found] == [["100"], ["101", "103"]]
    assert found[1].via == ("JFK",)
    assert found[1].summary()["duration_minutes"] == 545
    slow = core.ConnectionRules(airports={"JFK": core.ConnectionTime(90, 300)})
    assert [it.key()[-1] for it in core.itineraries(index, slow, "BOS", "LHR", DAY)] == [
        flights[0].key,
        flights[2].key,
    ]


def test_journey_types_and_slice_dates() -> None:
    def s(origin: str, destination: str, days: int = 0) -> core.Slice:
        return core.Slice(origin, destination, DAY, days)

    assert core.journey_type([s("BOS", "LHR")]) == "one_way"
    assert core.journey_type([s("BOS", "LHR"), s("LHR", "BOS")]) == "round_trip"
    assert core.journey_type([s("BOS", "LHR"), s("CDG", "BOS")]) == "open_jaw"
    assert core.journey_type([s("BOS", "LHR"), s("LHR", "CDG"), s("CDG", "BOS")]) == "multi_city"
    assert s("BOS", "LHR", 2).dates() == [
        DAY,
        DAY - timedelta(days=1),
        DAY + timedelta(days=1),
        DAY - timedelta(days=2),
        DAY + timedelta(days=2),
    ]


def test_great_circle_distances_are_real_world_distances() -> None:
    # JFK-LHR is about 5,540 km; the index is symmetric and zero on the diagonal.
    index = core.Connections.build([], COORDINATES)
    assert 5500 < index.distance("JFK", "LHR") < 5600
    assert index.distance("LHR", "JFK") == index.distance("JFK", "LHR")
    assert index.distance("JFK", "JFK") == 0
    assert index.distance("JFK", "XXX") == 0
