"""Journeys end to end over HTTP, on SQLite and PostgreSQL: round trips with connections built
from the schedules, connection times and the routing limit, through fares, orders that hold every
segment or none, re-pricing, the priority offer when seats run low, and what an out-of-stock
search proposes instead."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.settings import Settings
from tests.conftest import make_settings
from tests.helpers import (
    FARE,
    Api,
    add_flight,
    create_key,
    departure_day,
    error_locs,
    passengers,
    problem,
    search,
    tenant_api,
)

OUT = departure_day(10)
BACK = (date.fromisoformat(OUT) + timedelta(days=7)).isoformat()
ONLY_FLIGHTS = {
    "max_offers": 20,
    "offer_types": [{"type": "FLIGHT_ONLY", "priority": 1, "always_include": True}],
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


def _day(day: str, later: int = 0) -> str:
    return (date.fromisoformat(day) + timedelta(days=later)).isoformat()


def _flight(
    owner: Api, number: str, origin: str, destination: str, day: str, times: str, **more: Any
) -> dict[str, Any]:
    """A flight leaving at the first local time of ``times`` ("HH:MM-HH:MM[+1]")."""
    leaves, lands = times.split("-")
    later = 1 if lands.endswith("+1") else 0
    return add_flight(
        owner,
        "OE",
        day=day,
        number=number,
        origin=origin,
        destination=destination,
        departure_local=f"{day}T{leaves}:00",
        arrival_local=f"{_day(day, later)}T{lands.removesuffix('+1')}:00",
        **more,
    )


@pytest.fixture
def network(client: TestClient) -> tuple[Api, Api, dict[str, dict[str, Any]]]:
    """BOS→LHR nonstop and via JFK, back nonstop and via JFK a week later, and a BOS→MIA→LHR
    routing that backtracks; flights only, every combination shown."""
    owner = tenant_api(client, "OE")
    assert owner.post("/v1/admin/tenants/OE/products", json=FARE).status_code == 201
    assert owner.put("/v1/admin/tenants/OE/offer-rules", json=ONLY_FLIGHTS).status_code == 200
    flights = {
        "104": _flight(owner, "104", "BOS", "LHR", OUT, "21:00-08:30+1"),
        "200": _flight(owner, "200", "BOS", "JFK", OUT, "15:00-16:15"),
        "100": _flight(owner, "100", "JFK", "LHR", OUT, "19:00-07:10+1"),
        "300": _flight(owner, "300", "BOS", "MIA", OUT, "12:00-15:00"),
        "301": _flight(owner, "301", "MIA", "LHR", OUT, "17:30-07:00+1"),
        "105": _flight(owner, "105", "LHR", "BOS", BACK, "12:00-14:45"),
        "101": _flight(owner, "101", "LHR", "JFK", BACK, "08:30-11:30"),
        "201": _flight(owner, "201", "JFK", "BOS", BACK, "13:00-14:15"),
    }
    return owner, Api(client, create_key(client, "OE", "runtime")), flights


def _round_trip(runtime: Api, **fields: Any) -> dict[str, Any]:
    body = {
        "slices": [
            {"origin": "BOS", "destination": "LHR", "date": OUT},
            {"origin": "LHR", "destination": "BOS", "date": BACK},
        ]
    } | fields
    response = runtime.post("/v1/offers/search", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _routings(result: dict[str, Any]) -> set[tuple[tuple[str, ...], ...]]:
    return {
        tuple(tuple(s["flight_number"] for s in sl["segments"]) for sl in o["slices"])
        for o in result["offers"]
    }


def test_a_round_trip_offers_nonstops_and_connections_priced_as_a_whole(
    network: tuple[Api, Api, dict[str, dict[str, Any]]],
) -> None:
    _, runtime, _ = network
    result = _round_trip(runtime, passengers={"adults": 2})
    # The MIA routing flies 1.7 times the BOS-LHR distance: over the 1.6 routing limit.
    assert _routings(result) == {
        (("104",), ("105",)),
        (("104",), ("101", "201")),
        (("200", "100"), ("105",)),
        (("200", "100"), ("101", "201")),
    }
    offer = next(o for o in result["offers"] if len(o["slices"][0]["segments"]) == 2)
    assert offer["journey"] == {"type": "round_trip", "slices": 2}
    outbound = offer["slices"][0]
    assert (outbound["origin"], outbound["destination"], outbound["stops"]) == ("BOS", "LHR", 1)
    assert outbound["via"] == ["JFK"]
    assert offer["flight"]["flight_number"] == "200"  # the journey's first segment
    fares = [i for i in offer["items"] if i["type"] == "FLIGHT"]
    assert len(fares) == sum(len(s["segments"]) for s in offer["slices"])
    assert len({i["item_id"] for i in offer["items"]}) == len(offer["items"])
    assert all(i["price"]["total"] == "400.00" for i in fares)  # 2 × 200.00 per segment
    total = sum(Decimal(i["price"]["total"]) for i in offer["items"])
    assert Decimal(offer["price"]["total"]) == total + Decimal(offer["price"]["tax_total"])


def test_connection_times_and_stops_follow_the_tenants_connection_rules(
    network: tuple[Api, Api, dict[str, dict[str, Any]]],
) -> None:
    owner, runtime, _ = network
    rules = "/v1/admin/tenants/OE/connection-rules"
    assert owner.get(rules).json()["min_connection_minutes"] == 60  # the defaults, version 0
    # At JFK: 165 minutes outbound is over its maximum of 150; 90 minutes inbound fits.
    changed = owner.put(
        rules,
        json={
            "airports": [
                {"airport": "JFK", "min_connection_minutes": 80, "max_connection_minutes": 150}
            ]
        },
    )
    assert changed.status_code == 200, changed.text
    assert _routings(_round_trip(runtime)) == {(("104",), ("105",)), (("104",), ("101", "201"))}
    owner.put(rules, json={"max_stops": 0})
    assert _routings(_round_trip(runtime)) == {(("104",), ("105",))}
    owner.put(rules, json={"routing_ratio": "1.8"})
    assert (("300", "301"), ("105",)) in _routings(_round_trip(runtime))
    for body, loc in (
        (
            {
                "airports": [
                    {"airport": "ZZZ", "min_connection_minutes": 1, "max_connection_minutes": 9}
                ]
            },
            ["body", "airports", 0, "airport"],
        ),
        ({"routing_ratio": "0.5"}, ["body", "routing_ratio"]),
        ({"max_stops": 3}, ["body", "max_stops"]),
    ):
        assert error_locs(problem(owner.put(rules, json=body), 422)) == [loc], body


def test_a_round_trip_through_fare_applies_to_round_trips_only(
    network: tuple[Api, Api, dict[str, dict[str, Any]]],
) -> None:
    owner, runtime, _ = network
    rule = owner.post(
        "/v1/admin/tenants/OE/pricing-rules",
        json={
            "rule_name": "Round-trip fare",
            "rule_type": "CUSTOM",
            "product_type": "FLIGHT",
            "conditions": {"journey.type": "round_trip"},
            "adjustments": {"type": "MULTIPLIER", "value": 0.8},
        },
    )
    assert rule.status_code == 201, rule.text
    round_trip = _round_trip(runtime)
    fares = {i["pricing"]["final_price"] for o in round_trip["offers"] for i in o["items"]}
    assert fares == {"160.00"}
    one_way = runtime.post(
        "/v1/offers/search",
        json={"slices": [{"origin": "BOS", "destination": "LHR", "date": OUT}]},
    ).json()
    assert {o["journey"]["type"] for o in one_way["offers"]} == {"one_way"}
    assert {i["pricing"]["final_price"] for o in one_way["offers"] for i in o["items"]} == {
        "200.00"
    }
    legacy = search(runtime, origin="BOS", destination="LHR", day=OUT)  # the one-way shape
    assert [o["flight"]["flight_number"] for o in legacy["offers"]] == ["104"]
    assert "slices" not in legacy["offers"][0]
    assert legacy["offers"][0]["items"][0]["pricing"]["final_price"] == "200.00"


def test_an_order_holds_every_segment_or_none(
    network: tuple[Api, Api, dict[str, dict[str, Any]]],
) -> None:
    owner, runtime, flights = network
    result = _round_trip(runtime, passengers={"adults": 2})
    offer = next(
        o
        for o in result["offers"]
        if _routings({"offers": [o]}) == {(("200", "100"), ("101", "201"))}
    )
    priced = runtime.post(f"/v1/offers/{offer['offer_id']}/price")
    assert priced.status_code == 200, priced.text
    assert priced.json()["price_changed"] is False
    order = runtime.post(
        "/v1/orders",
        json={"offer_id": offer["offer_id"], "passengers": passengers(2)},
        headers={"Idempotency-Key": "rt-1"},
    )
    assert order.status_code == 201, order.text
    holds = order.json()["holds"]
    assert sorted((h["scope"], h["quantity"]) for h in holds) == sorted(
        (f"flight:{flights[n]['id']}", 2) for n in ("200", "100", "101", "201")
    )
    # Fill flight 201 but one seat: a new two-seat journey order through it holds nothing.
    last = _flight(owner, "202", "JFK", "BOS", BACK, "13:30-14:45", cabins={"ECONOMY": 3})
    again = _round_trip(runtime, passengers={"adults": 2})
    through = [
        o for o in again["offers"] if o["slices"][1]["segments"][-1]["flight_number"] == "202"
    ]
    assert through
    taker = runtime.post(
        "/v1/offers/search",
        json={
            "slices": [{"origin": "JFK", "destination": "BOS", "date": BACK}],
            "passengers": {"adults": 2},
        },
    ).json()
    own = next(o for o in taker["offers"] if o["flight"]["flight_number"] == "202")
    assert (
        runtime.post(
            "/v1/orders",
            json={"offer_id": own["offer_id"], "passengers": passengers(2)},
            headers={"Idempotency-Key": "take-202"},
        ).status_code
        == 201
    )
    before = _held(runtime, flights)
    refused = runtime.post(
        "/v1/orders",
        json={"offer_id": through[0]["offer_id"], "passengers": passengers(2)},
        headers={"Idempotency-Key": "rt-2"},
    )
    problem(refused, 409)
    assert _held(runtime, flights) == before  # the other segments were released
    assert _held(runtime, {"202": last})["202"] == 2


def _held(runtime: Api, flights: dict[str, dict[str, Any]]) -> dict[str, int]:
    out = {}
    for number, flight in flights.items():
        live = runtime.get(f"/v1/inventory/flights/{flight['id']}").json()
        out[number] = sum(c["held"] + c["sold"] for c in live["cabins"])
    return out


def test_a_sold_out_date_proposes_the_nearest_dates_and_connections(
    network: tuple[Api, Api, dict[str, dict[str, Any]]],
) -> None:
    owner, runtime, _ = network
    # No flights two days before: the nearest date with seats is OUT, two days later.
    early = _day(OUT, -2)
    result = runtime.post(
        "/v1/offers/search",
        json={"slices": [{"origin": "BOS", "destination": "LHR", "date": early}]},
    ).json()
    assert result["offers"] == []
    dates = result["alternatives"]["dates"]
    assert dates[0]["date"] == OUT
    assert dates[0]["days_from_asked"] == 2
    assert dates[0]["nonstop"] is True
    # Sell the nonstop out: the one-way shape (nonstops only) proposes the JFK connection.
    _flight(owner, "106", "BOS", "LHR", _day(OUT, 1), "21:00-08:30+1", cabins={"ECONOMY": 1})
    sold_out = search(
        runtime, origin="BOS", destination="LHR", day=_day(OUT, 1), passengers={"adults": 2}
    )
    assert sold_out["offers"] == []
    assert sold_out["alternatives"]["dates"][0]["date"] == OUT
    legacy_empty = search(
        runtime, origin="BOS", destination="LHR", day=OUT, passengers={"adults": 2}
    )
    assert legacy_empty["offers"]
    assert "alternatives" not in legacy_empty
    nonstop_full = _flight(
        owner, "108", "BOS", "LHR", _day(OUT, 3), "21:00-08:30+1", cabins={"ECONOMY": 1}
    )
    _flight(owner, "208", "BOS", "JFK", _day(OUT, 3), "15:00-16:15")
    _flight(owner, "109", "JFK", "LHR", _day(OUT, 3), "19:00-07:10+1")
    proposed = search(
        runtime, origin="BOS", destination="LHR", day=_day(OUT, 3), passengers={"adults": 2}
    )
    assert proposed["offers"] == []
    connections = proposed["alternatives"]["connections"]
    assert [c["flights"] for c in connections] == [["OE208", "OE109"]]
    assert nonstop_full["flight_number"] == "108"


def test_low_seats_raise_the_tenants_priority_offer(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    assert owner.post("/v1/admin/tenants/OE/products", json=FARE).status_code == 201
    owner.post(
        "/v1/admin/tenants/OE/inventory-rules",
        json={"resource_type": "SEAT", "min_availability_threshold": 10},
    )
    runtime = Api(client, create_key(client, "OE", "runtime"))
    add_flight(owner, "OE", number="100", cabins={"ECONOMY": 200})
    add_flight(
        owner,
        "OE",
        number="102",
        cabins={"ECONOMY": 5},
        departure_local=f"{OUT}T22:00:00",
        arrival_local=f"{_day(OUT, 1)}T10:00:00",
    )
    rules = {"max_offers": 1, "offer_types": [{"type": "FLIGHT_ONLY", "priority": 1}]}
    owner.put("/v1/admin/tenants/OE/offer-rules", json=rules)
    plain = search(runtime)["offers"]
    assert "priority_offer" not in plain[0]["score_parts"]
    owner.put(
        "/v1/admin/tenants/OE/offer-rules", json=rules | {"low_inventory_offer": "FLIGHT_ONLY"}
    )
    raised = search(runtime)["offers"]
    assert [o["flight"]["flight_number"] for o in raised] == ["102"]
    assert raised[0]["score_parts"]["priority_offer"] == 1.0
    assert raised[0]["low_stock"] == ["ECONOMY seats"]
    refused = owner.put(
        "/v1/admin/tenants/OE/offer-rules", json=rules | {"low_inventory_offer": "COMFORT"}
    )
    assert error_locs(problem(refused, 422)) == [["body", "low_inventory_offer"]]


def test_bad_journeys_are_refused_naming_the_field(
    network: tuple[Api, Api, dict[str, dict[str, Any]]],
) -> None:
    _, runtime, _ = network
    leg = {"origin": "BOS", "destination": "LHR", "date": OUT}
    for body, loc in (
        ({"slices": []}, ["body", "slices"]),
        ({"slices": [leg] * 5}, ["body", "slices"]),
        ({"slices": [leg | {"days": 4}]}, ["body", "slices", 0, "days"]),
        ({"slices": [leg | {"destination": "BOS"}]}, ["body", "slices", 0]),
        ({"slices": [leg], "origin": "BOS"}, ["body"]),
        ({"destination": "LHR", "date": OUT}, ["body", "origin"]),
    ):
        found = problem(runtime.post("/v1/offers/search", json=body), 422)
        assert error_locs(found) == [loc], body


def test_a_bundle_takes_its_ancillaries_per_slice_and_an_order_holds_only_those_kept(
    network: tuple[Api, Api, dict[str, dict[str, Any]]],
) -> None:
    owner, runtime, flights = network
    legroom = {
        "product_type": "SEAT",
        "product_code": "SEAT-EXTRA-LEG",
        "name": "Extra legroom seat",
        "category": "EXTRA_LEGROOM",
        "base_price": "45.00",
        "metadata": {"inventory": {"per": "flight", "capacity": 4}},
    }
    assert owner.post("/v1/admin/tenants/OE/products", json=legroom).status_code == 201
    comfort = {
        "bundle_name": "Comfort",
        "bundle_type": "COMFORT",
        "product_types": [
            {"type": "FLIGHT", "required": True},
            {"type": "SEAT", "category": "EXTRA_LEGROOM", "required": False},
        ],
        "discount_percentage": "10",
    }
    assert owner.post("/v1/admin/tenants/OE/bundles", json=comfort).status_code == 201
    owner.put(
        "/v1/admin/tenants/OE/offer-rules",
        json={"max_offers": 20, "offer_types": [{"type": "COMFORT", "priority": 1}]},
    )
    result = _round_trip(runtime)
    offer = next(
        o for o in result["offers"] if _routings({"offers": [o]}) == {(("104",), ("105",))}
    )
    extras = {i["item_id"]: i for i in offer["items"] if i["type"] != "FLIGHT"}
    assert set(extras) == {"s1-extra-1", "s2-extra-1"}  # one per slice, on its first segment
    assert {i["price"]["total"] for i in extras.values()} == {"40.50"}  # 45.00 less 10 %
    order = runtime.post(
        "/v1/orders",
        json={
            "offer_id": offer["offer_id"],
            "passengers": passengers(1),
            "selected_optional_items": ["s1-extra-1"],
        },
        headers={"Idempotency-Key": "comfort-1"},
    )
    assert order.status_code == 201, order.text
    legroom_holds = [h for h in order.json()["holds"] if h["resource"] == "SEAT-EXTRA-LEG"]
    assert [(h["scope"], h["quantity"]) for h in legroom_holds] == [
        (f"flight:{flights['104']['id']}", 1)
    ]


def test_open_jaw_and_multi_city_journeys_fly_their_slices_in_order(
    network: tuple[Api, Api, dict[str, dict[str, Any]]],
) -> None:
    _, runtime, _ = network

    def journey(*slices: tuple[str, str, str]) -> dict[str, Any]:
        body = {"slices": [{"origin": o, "destination": d, "date": day} for o, d, day in slices]}
        found = runtime.post("/v1/offers/search", json=body)
        assert found.status_code == 200, found.text
        return dict(found.json())

    open_jaw = journey(("BOS", "LHR", OUT), ("LHR", "JFK", BACK))
    assert {o["journey"]["type"] for o in open_jaw["offers"]} == {"open_jaw"}
    assert _routings(open_jaw) == {(("104",), ("101",)), (("200", "100"), ("101",))}
    multi = journey(("BOS", "JFK", OUT), ("JFK", "LHR", OUT), ("LHR", "BOS", BACK))
    assert {o["journey"]["type"] for o in multi["offers"]} == {"multi_city"}
    assert _routings(multi) == {
        (("200",), ("100",), ("105",)),
        (("200",), ("100",), ("101", "201")),
    }
    # The second slice cannot leave before the first lands: nothing is offered, and why is said.
    backwards = journey(("LHR", "BOS", BACK), ("BOS", "LHR", OUT))
    assert backwards["offers"] == []
    assert any("no itinerary in order" in w for w in backwards["warnings"])
