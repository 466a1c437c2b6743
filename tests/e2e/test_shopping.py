"""Shopping end to end over HTTP: flights and schedules, bundles, offer rules, fare settings,
search, stored offers, re-pricing, and orders that hold inventory."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.ids import new_body_id, new_search_key
from offerengine.orders import service as orders
from offerengine.recording import records
from offerengine.settings import Settings
from tests.conftest import PLATFORM_KEY, make_settings
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

LEGROOM = {
    "product_type": "SEAT",
    "product_code": "SEAT-EXTRA-LEG",
    "name": "Extra legroom seat",
    "category": "EXTRA_LEGROOM",
    "base_price": "45.00",
    "cost": "6.00",
    "metadata": {"inventory": {"per": "flight", "capacity": 4}},
}
MEAL = {
    "product_type": "MEAL",
    "product_code": "MEAL-HOT",
    "name": "Hot meal",
    "category": "HOT",
    "base_price": "18.00",
    "cost": "7.50",
}
LOUNGE = {
    "product_type": "LOUNGE",
    "product_code": "LOUNGE",
    "name": "Lounge",
    "base_price": "55.00",
    "metadata": {"inventory": {"per": "airport_day", "capacity": 2}},
}
COMFORT = {
    "bundle_name": "Comfort Bundle",
    "bundle_type": "COMFORT",
    "product_types": [
        {"type": "FLIGHT", "required": True},
        {"type": "SEAT", "category": "EXTRA_LEGROOM", "required": False},
        {"type": "MEAL", "category": "HOT", "required": False},
    ],
    "discount_percentage": "10.0",
    "priority": 2,
}


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    """The low-inventory webhook's receiver runs on this machine (127.0.0.1)."""
    return make_settings(sqlite_url, tmp_path, webhook_allow_private_networks=True)


@pytest.fixture
def airline(client: TestClient) -> tuple[Api, Api, dict[str, Any]]:
    """An airline with an economy fare, two ancillaries, a comfort bundle and one flight."""
    owner = tenant_api(client, "OE")
    for product in (FARE, LEGROOM, MEAL):
        assert owner.post("/v1/admin/tenants/OE/products", json=product).status_code == 201
    assert owner.post("/v1/admin/tenants/OE/bundles", json=COMFORT).status_code == 201
    flight = add_flight(owner, "OE")
    return owner, Api(client, create_key(client, "OE", "runtime")), flight


def _by_type(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["offer_type"]: o for o in result["offers"]}


# --- flights ------------------------------------------------------------------------------------


def test_a_flight_gets_the_airports_zones_and_a_list_skips_existing(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    flight = add_flight(owner, "OE", day="2030-07-01")
    # New York is on daylight time in July (UTC-4); London on BST (UTC+1).
    assert flight["departure_at"].startswith("2030-07-01T23:00:00")
    assert flight["arrival_at"].startswith("2030-07-02T06:10:00")
    again = owner.post(
        "/v1/admin/tenants/OE/flights",
        json=[
            {**_flight_body("2030-07-01"), "flight_number": "100"},
            {**_flight_body("2030-07-01"), "flight_number": "200"},
        ],
    )
    assert again.status_code == 201, again.text
    assert (again.json()["created"], again.json()["skipped"]) == (1, 1)
    listed = owner.get(
        "/v1/admin/tenants/OE/flights", params={"origin": "JFK", "date": "2030-07-01"}
    ).json()["items"]
    assert [f["flight_number"] for f in listed] == ["100", "200"]


def _flight_body(day: str) -> dict[str, Any]:
    nxt = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    return {
        "carrier": "OE",
        "flight_number": "300",
        "origin": "JFK",
        "destination": "LHR",
        "departure_local": f"{day}T19:00:00",
        "arrival_local": f"{nxt}T07:10:00",
        "cabins": {"ECONOMY": 100},
    }


def test_bad_flights_are_refused_naming_the_field_and_nothing_is_added(
    client: TestClient,
) -> None:
    owner = tenant_api(client, "OE")
    body = [
        _flight_body("2030-07-01"),
        {**_flight_body("2030-07-01"), "flight_number": "301", "destination": "XQZ"},
        {**_flight_body("2030-07-01"), "flight_number": "302", "arrival_local": "2030-07-01T10:00"},
        {
            **_flight_body("2030-07-01"),
            "flight_number": "303",
            "ancillary_capacity": {"NO-SUCH": 3},
        },
    ]
    found = problem(owner.post("/v1/admin/tenants/OE/flights", json=body), 422)
    assert error_locs(found) == [
        ["body", "flights", 1, "destination"],
        ["body", "flights", 2, "arrival_local"],
        ["body", "flights", 3, "ancillary_capacity", "NO-SUCH"],
    ]
    assert owner.get("/v1/admin/tenants/OE/flights").json()["items"] == []
    zoned = {**_flight_body("2030-07-01"), "departure_local": "2030-07-01T19:00:00+02:00"}
    problem(owner.post("/v1/admin/tenants/OE/flights", json=zoned), 422)


def test_a_schedule_makes_one_flight_per_matching_day(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    response = owner.post(
        "/v1/admin/tenants/OE/schedules",
        json={
            "carrier": "OE",
            "flight_number": "100",
            "origin": "JFK",
            "destination": "LHR",
            "departure_time": "19:00",
            "arrival_time": "07:10",
            "arrival_day_offset": 1,
            "days_of_week": ["MON", "WED", "FRI"],
            "start_date": "2030-03-04",  # a Monday
            "end_date": "2030-03-17",
            "cabins": {"ECONOMY": 200},
        },
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["created"] == 6
    days = [f["departure_date"] for f in made["items"]]
    assert days == [
        "2030-03-04",
        "2030-03-06",
        "2030-03-08",
        "2030-03-11",
        "2030-03-13",
        "2030-03-15",
    ]
    # The US moves to daylight time on 10 March 2030: the local time stays, the instant moves.
    assert made["items"][0]["departure_at"].startswith("2030-03-05T00:00:00")
    assert made["items"][3]["departure_at"].startswith("2030-03-11T23:00:00")


# --- search -------------------------------------------------------------------------------------


def test_search_prices_the_flight_as_simulate_does_and_adds_the_bundle(
    airline: tuple[Api, Api, dict[str, Any]],
) -> None:
    owner, runtime, flight = airline
    owner.post(
        "/v1/admin/tenants/OE/pricing-rules",
        json={
            "rule_name": "Demand",
            "rule_type": "DEMAND",
            "product_type": "FLIGHT",
            "adjustments": {"type": "MULTIPLIER", "formula": "1.0 + utilization * 2"},
        },
    )
    result = search(runtime, passengers={"adults": 2, "children": 1, "infants": 1})
    offers = _by_type(result)
    assert set(offers) == {"FLIGHT_ONLY", "COMFORT"}
    only = offers["FLIGHT_ONLY"]
    fare = only["items"][0]
    assert only["flight"]["flight_id"] == flight["id"]
    assert fare["pricing"]["final_price"] == "200.00"  # nothing sold yet: utilization 0
    assert fare["passengers"] == [
        {"type": "ADULT", "count": 2, "unit_price": "200.00"},
        {"type": "CHILD", "count": 1, "unit_price": "150.00"},
        {"type": "INFANT", "count": 1, "unit_price": "20.00"},
    ]
    assert only["price"]["total"] == "570.00"
    comfort = offers["COMFORT"]
    seat, meal = comfort["items"][1:]
    # 10 % off the ancillaries, per seated passenger; never off the fare.
    assert seat["price"] == {
        "base": "135.00",
        "subtotal": "135.00",
        "discount": "-13.50",
        "discount_percentage": "10",
        "total": "121.50",
    }
    assert meal["price"]["total"] == "48.60"
    assert comfort["price"]["total"] == "740.10"  # 570 + 121.50 + 48.60
    assert comfort["price"]["per_passenger"] == [
        {"type": "ADULT", "count": 2, "total": "256.70"},
        {"type": "CHILD", "count": 1, "total": "206.70"},
        {"type": "INFANT", "count": 1, "total": "20.00"},
    ]
    for offer in result["offers"]:
        assert set(offer["score_parts"]) >= {"conversion_probability", "margin"}
        expires = datetime.fromisoformat(offer["expires_at"])
        assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)


def test_taxes_and_selling_currency_follow_the_fare_settings(
    airline: tuple[Api, Api, dict[str, Any]],
) -> None:
    owner, runtime, _ = airline
    settings = {
        "child_ratio": "0.5",
        "taxes": [
            {
                "code": "US",
                "name": "US fee",
                "kind": "FIXED",
                "amount": "20",
                "currency": "USD",
                "country": "US",
                "passenger_types": ["ADULT", "CHILD"],
            },
            {
                "code": "GB",
                "name": "UK duty",
                "kind": "PERCENTAGE",
                "amount": "10",
                "airport": "LHR",
                "applies_to": "ARRIVAL",
            },
            {
                "code": "FR",
                "name": "Not here",
                "kind": "PERCENTAGE",
                "amount": "50",
                "country": "FR",
            },
        ],
        "exchange_rates": [{"from": "USD", "to": "EUR", "rate": "0.9"}],
    }
    response = owner.put("/v1/admin/tenants/OE/fare-settings", json=settings)
    assert response.status_code == 200, response.text
    only = _by_type(search(runtime, passengers={"adults": 1, "children": 1}, currency="EUR"))[
        "FLIGHT_ONLY"
    ]
    assert only["currency"] == "EUR"
    assert [p["unit_price"] for p in only["items"][0]["passengers"]] == ["180.00", "90.00"]
    taxes = {t["code"]: t for t in only["price"]["taxes"]}
    assert set(taxes) == {"US", "GB"}
    assert taxes["US"]["amount"] == "36.00"  # 2 × USD 20 → EUR 18
    assert taxes["GB"]["amount"] == "27.00"  # 10 % of 180 + 90
    assert only["price"]["total"] == "333.00"
    found = problem(
        runtime.post(
            "/v1/offers/search",
            json={
                "origin": "JFK",
                "destination": "LHR",
                "date": departure_day(),
                "currency": "NUC",
            },
        ),
        422,
    )
    assert error_locs(found) == [["body", "currency"]]
    missing_rate = search(runtime, currency="JPY")
    assert missing_rate["offers"] == []
    assert any("no exchange rate from USD to JPY" in w for w in missing_rate["warnings"])


def test_search_validation_and_empty_results(airline: tuple[Api, Api, dict[str, Any]]) -> None:
    _, runtime, _ = airline
    empty = search(runtime, day=departure_day(40))
    assert empty["offers"] == []
    assert "no flights" in empty["warnings"][0]
    for body, loc in (
        ({"destination": "LHR", "date": "2030-01-01"}, ["body", "origin"]),
        ({"origin": "JFK", "destination": "LHR", "date": "2030-13-01"}, ["body", "date"]),
        (
            {
                "origin": "JFK",
                "destination": "LHR",
                "date": "2030-01-01",
                "passengers": {"adults": 1, "infants": 2},
            },
            ["body", "passengers"],
        ),
        ({"origin": "JFK", "destination": "JFK", "date": "2030-01-01"}, ["body"]),
    ):
        found = problem(runtime.post("/v1/offers/search", json=body), 422)
        assert error_locs(found) == [loc], body


def test_a_sold_out_optional_item_is_left_out_and_a_required_one_drops_the_bundle(
    airline: tuple[Api, Api, dict[str, Any]],
) -> None:
    owner, runtime, _ = airline
    comfort = _by_type(search(runtime, passengers={"adults": 5}))["COMFORT"]
    assert [i["product_code"] for i in comfort["items"]] == ["FARE-ECONOMY", "MEAL-HOT"]
    assert comfort["omitted"] == [
        {"type": "SEAT", "category": "EXTRA_LEGROOM", "reason": "sold out"}
    ]
    assert owner.post("/v1/admin/tenants/OE/products", json=LOUNGE).status_code == 201
    owner.post(
        "/v1/admin/tenants/OE/bundles",
        json={
            "bundle_name": "Lounge pack",
            "bundle_type": "LOUNGE_PACK",
            "product_types": [
                {"type": "FLIGHT", "required": True},
                {"type": "LOUNGE", "required": True},
            ],
        },
    )
    three = search(runtime, passengers={"adults": 3})
    assert "LOUNGE_PACK" not in _by_type(three)
    assert any("required LOUNGE: sold out" in w for w in three["warnings"])
    assert "LOUNGE_PACK" in _by_type(search(runtime, passengers={"adults": 2}))


def test_offer_rules_choose_the_mix_count_and_expiry(
    airline: tuple[Api, Api, dict[str, Any]],
) -> None:
    owner, runtime, _ = airline
    add_flight(owner, "OE", number="200")
    assert owner.get("/v1/admin/tenants/OE/offer-rules").json()["version"] == 0
    rules = {
        "max_offers": 3,
        "offer_types": [
            {"type": "FLIGHT_ONLY", "priority": 1, "always_include": True},
            {"type": "COMFORT", "priority": 2, "always_include": True},
        ],
        "ranking_weights": {"conversion_probability": 0, "profit_margin": 1},
        "expiry_minutes": 5,
    }
    saved = owner.put("/v1/admin/tenants/OE/offer-rules", json=rules)
    assert saved.status_code == 200, saved.text
    offers = search(runtime)["offers"]
    assert len(offers) == 3
    assert {o["offer_type"] for o in offers} == {"FLIGHT_ONLY", "COMFORT"}
    assert [o["score"] for o in offers] == sorted((o["score"] for o in offers), reverse=True)
    expires = datetime.fromisoformat(offers[0]["expires_at"])
    assert expires - datetime.now(UTC) <= timedelta(minutes=5)
    bad = {**rules, "ranking_weights": {"conversion_probability": 0, "profit_margin": 0}}
    problem(owner.put("/v1/admin/tenants/OE/offer-rules", json=bad), 422)
    history = owner.get(f"/v1/admin/offer-rules/{saved.json()['id']}/versions").json()
    assert [v["version"] for v in history["items"]] == [1]


def test_bundle_preview_stores_and_holds_nothing(
    airline: tuple[Api, Api, dict[str, Any]],
) -> None:
    owner, runtime, flight = airline
    bundle = owner.get("/v1/admin/tenants/OE/bundles").json()["items"][0]
    response = owner.post(
        f"/v1/admin/bundles/{bundle['id']}/test",
        json={"search_params": {"origin": "JFK", "destination": "LHR", "date": departure_day()}},
    )
    assert response.status_code == 200, response.text
    offers = response.json()["offers"]
    assert [o["offer_type"] for o in offers] == ["COMFORT"]
    assert offers[0]["items"][0]["pricing"]["steps"] == []
    assert runtime.get(f"/v1/offers/{offers[0]['offer_id']}").status_code == 404
    live = runtime.get(f"/v1/inventory/flights/{flight['id']}").json()
    assert all(c["held"] == 0 and c["sold"] == 0 for c in live["cabins"] + live["ancillaries"])


# --- offers and orders -------------------------------------------------------------------------------


def test_search_price_order_confirm(airline: tuple[Api, Api, dict[str, Any]]) -> None:
    _owner, runtime, flight = airline
    offer = _by_type(search(runtime, passengers={"adults": 2}))["COMFORT"]
    assert runtime.get(f"/v1/offers/{offer['offer_id']}").json() == offer
    again = runtime.post(f"/v1/offers/{offer['offer_id']}/price").json()
    assert again["price_changed"] is False
    assert again["offer"]["price"] == offer["price"]

    body = {"offer_id": offer["offer_id"], "passengers": passengers(2)}
    made = runtime.post("/v1/orders", json=body, headers={"Idempotency-Key": "order-1"})
    assert made.status_code == 201, made.text
    order = made.json()
    assert order["status"] == "HELD"
    assert order["total"] == offer["price"]["total"]
    held = {(h["resource_type"], h["resource"]): h["quantity"] for h in order["holds"]}
    assert held == {("SEAT", "ECONOMY"): 2, ("SEAT", "SEAT-EXTRA-LEG"): 2}
    repeat = runtime.post("/v1/orders", json=body, headers={"Idempotency-Key": "order-1"})
    assert repeat.status_code == 200
    assert repeat.json()["id"] == order["id"]
    other = {**body, "passengers": passengers(2)[::-1]}
    found = problem(
        runtime.post("/v1/orders", json=other, headers={"Idempotency-Key": "order-1"}), 422
    )
    assert error_locs(found) == [["header", "Idempotency-Key"]]

    live = runtime.get(f"/v1/inventory/flights/{flight['id']}").json()
    economy = next(c for c in live["cabins"] if c["resource"] == "ECONOMY")
    assert (economy["held"], economy["sold"]) == (2, 0)

    confirmed = runtime.post(
        f"/v1/orders/{order['id']}/confirm", json={"payment_reference": "PAY-1"}
    )
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "CONFIRMED"
    live = runtime.get(f"/v1/inventory/flights/{flight['id']}").json()
    economy = next(c for c in live["cabins"] if c["resource"] == "ECONOMY")
    assert (economy["held"], economy["sold"]) == (0, 2)
    cancelled = runtime.post(f"/v1/orders/{order['id']}/cancel").json()
    assert cancelled["status"] == "CANCELLED"
    live = runtime.get(f"/v1/inventory/flights/{flight['id']}").json()
    assert all(c["held"] == 0 and c["sold"] == 0 for c in live["cabins"] + live["ancillaries"])
    listed = runtime.get("/v1/orders", params={"status": "CANCELLED"}).json()["items"]
    assert [o["id"] for o in listed] == [order["id"]]


def test_orders_refuse_what_does_not_fit_and_change_nothing(
    airline: tuple[Api, Api, dict[str, Any]],
) -> None:
    _owner, runtime, flight = airline
    offer = _by_type(search(runtime, passengers={"adults": 3}))["COMFORT"]
    wrong = {"offer_id": offer["offer_id"], "passengers": passengers(2, 1)}
    found = problem(runtime.post("/v1/orders", json=wrong, headers={"Idempotency-Key": "a"}), 422)
    assert error_locs(found) == [["body", "passengers"]]
    missing_key = runtime.post("/v1/orders", json=wrong)
    assert ["header", "Idempotency-Key"] in error_locs(problem(missing_key, 422))
    unknown = {"offer_id": "nope", "passengers": passengers(3)}
    problem(runtime.post("/v1/orders", json=unknown, headers={"Idempotency-Key": "b"}), 404)

    # Someone else buys 2 of the 4 extra-legroom seats: 3 no longer fit, and the order holds
    # nothing at all (not even the economy seats it could have had).
    other = _by_type(search(runtime, passengers={"adults": 2}))["COMFORT"]
    first = {"offer_id": other["offer_id"], "passengers": passengers(2)}
    assert (
        runtime.post("/v1/orders", json=first, headers={"Idempotency-Key": "c"}).status_code == 201
    )
    late = {"offer_id": offer["offer_id"], "passengers": passengers(3)}
    problem(runtime.post("/v1/orders", json=late, headers={"Idempotency-Key": "d"}), 409)
    live = runtime.get(f"/v1/inventory/flights/{flight['id']}").json()
    assert {c["resource"]: c["held"] for c in live["cabins"] + live["ancillaries"]} == {
        "ECONOMY": 2,
        "BUSINESS": 0,
        "SEAT-EXTRA-LEG": 2,
    }
    # Without the extra-legroom seats the same offer can be booked.
    seat_id = next(i["item_id"] for i in offer["items"] if i["product_code"] == "SEAT-EXTRA-LEG")
    meal_id = next(i["item_id"] for i in offer["items"] if i["product_code"] == "MEAL-HOT")
    partial = {**late, "selected_optional_items": [meal_id]}
    made = runtime.post("/v1/orders", json=partial, headers={"Idempotency-Key": "e"})
    assert made.status_code == 201, made.text
    assert [i["product_code"] for i in made.json()["items"]] == ["FARE-ECONOMY", "MEAL-HOT"]
    assert Decimal(made.json()["total"]) < Decimal(offer["price"]["total"])
    bad = {**late, "selected_optional_items": [seat_id, "flight"]}
    found = problem(runtime.post("/v1/orders", json=bad, headers={"Idempotency-Key": "f"}), 422)
    assert error_locs(found) == [["body", "selected_optional_items", 1]]


def test_reprice_sees_new_rules_and_sold_out_flights(
    airline: tuple[Api, Api, dict[str, Any]],
) -> None:
    owner, runtime, _ = airline
    offer = _by_type(search(runtime))["FLIGHT_ONLY"]
    owner.post(
        "/v1/admin/tenants/OE/pricing-rules",
        json={
            "rule_name": "Up",
            "rule_type": "CUSTOM",
            "product_type": "FLIGHT",
            "adjustments": {"type": "MULTIPLIER", "value": 1.1},
        },
    )
    again = runtime.post(f"/v1/offers/{offer['offer_id']}/price").json()
    assert again["price_changed"] is True
    assert (again["previous_total"], again["offer"]["price"]["total"]) == ("200.00", "220.00")
    small = add_flight(owner, "OE", number="900", day=departure_day(11), cabins={"ECONOMY": 1})
    one = _by_type(search(runtime, day=departure_day(11)))["FLIGHT_ONLY"]
    assert one["flight"]["flight_id"] == small["id"]
    taker = _by_type(search(runtime, day=departure_day(11)))["FLIGHT_ONLY"]
    order = {"offer_id": taker["offer_id"], "passengers": passengers(1)}
    assert (
        runtime.post("/v1/orders", json=order, headers={"Idempotency-Key": "x"}).status_code == 201
    )
    problem(runtime.post(f"/v1/offers/{one['offer_id']}/price"), 409)


def test_expired_offers_and_holds(
    airline: tuple[Api, Api, dict[str, Any]], client: TestClient
) -> None:
    owner, runtime, flight = airline
    owner.put("/v1/admin/tenants/OE/offer-rules", json={"expiry_minutes": 1})
    offer = _by_type(search(runtime))["FLIGHT_ONLY"]
    made = runtime.post(
        "/v1/orders",
        json={"offer_id": offer["offer_id"], "passengers": passengers(1)},
        headers={"Idempotency-Key": "exp"},
    ).json()
    context = client.app.state.context  # type: ignore[attr-defined]

    async def sweep(at: datetime) -> int:
        async with context.session_factory() as session:
            if context.is_sqlite:  # a writer takes the lock up front, as the app's sweeper does:
                # a read that turns into a write meanwhile is refused, not queued
                await session.connection(execution_options={"sqlite_immediate": True})
            count = await orders.sweep(session, now=at)
            await session.commit()
        return count

    assert asyncio.run(sweep(datetime.now(UTC))) == 0
    assert asyncio.run(sweep(datetime.now(UTC) + timedelta(minutes=16))) == 1
    order = runtime.get(f"/v1/orders/{made['id']}").json()
    assert order["status"] == "EXPIRED"
    live = runtime.get(f"/v1/inventory/flights/{flight['id']}").json()
    assert all(c["held"] == 0 for c in live["cabins"])
    problem(
        runtime.post(f"/v1/orders/{made['id']}/confirm", json={"payment_reference": "late"}), 410
    )


def test_low_inventory_is_reported_once_per_crossing(
    airline: tuple[Api, Api, dict[str, Any]], client: TestClient
) -> None:
    owner, runtime, _flight = airline
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    hook = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    owner.put(
        "/v1/admin/tenants/OE/fare-settings",
        json={"low_inventory_webhook": f"http://127.0.0.1:{hook.server_port}/hook"},
    )
    owner.post(
        "/v1/admin/tenants/OE/inventory-rules",
        json={
            "resource_type": "SEAT",
            "min_availability_threshold": 199,
            "overbooking_percentage": 0,
            "release_policy": {"notify_on_low_inventory": True},
        },
    )
    for n in range(2):
        offer = _by_type(search(runtime))["FLIGHT_ONLY"]
        order = {"offer_id": offer["offer_id"], "passengers": passengers(1)}
        assert (
            runtime.post(
                "/v1/orders", json=order, headers={"Idempotency-Key": f"low{n}"}
            ).status_code
            == 201
        )
    offer = _by_type(search(runtime))["FLIGHT_ONLY"]
    assert offer["items"][0]["availability"] == {"status": "low", "remaining": 198}
    assert offer["low_stock"] == ["ECONOMY seats"]
    context = client.app.state.context  # type: ignore[attr-defined]

    async def events() -> list[Any]:
        import sqlalchemy as sa

        from offerengine.events.models import Event

        async with context.session_factory() as session:
            return list(
                await session.scalars(sa.select(Event).where(Event.type == "low_inventory"))
            )

    found = asyncio.run(events())
    assert len(found) == 1
    assert found[0].properties["resource"] == "ECONOMY"
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    hook.shutdown()
    hook.server_close()
    assert len(received) == 1
    assert received[0]["type"] == "low_inventory"
    assert (received[0]["resource"], received[0]["sellable"]) == ("ECONOMY", 198)


def test_an_experiment_varies_prices_and_ranking_and_counts_orders(
    airline: tuple[Api, Api, dict[str, Any]],
) -> None:
    owner, runtime, _ = airline
    owner.post(
        "/v1/admin/tenants/OE/pricing-rules",
        json={
            "rule_name": "Promo fare",
            "rule_type": "CUSTOM",
            "product_type": "FLIGHT",
            "adjustments": {"type": "MULTIPLIER", "value": 0.8},
            "tags": ["promo"],
        },
    )
    experiment = owner.post(
        "/v1/admin/tenants/OE/experiments",
        json={
            "key": "fare-test",
            "name": "Promo fare",
            "unit": "customer_id",
            "variants": [
                {"key": "control", "config": {}},
                {"key": "promo", "config": {"pricing_rule_tags": ["promo"]}},
            ],
            "primary_metric": {"kind": "conversion", "event": "order"},
        },
    ).json()
    # Before the start everybody gets the control: the tagged rule applies to nobody.
    before = _by_type(search(runtime, customer={"id": "c-1"}))["FLIGHT_ONLY"]
    assert before["price"]["total"] == "200.00"
    assert owner.post(f"/v1/admin/experiments/{experiment['id']}/start").status_code == 200
    seen: dict[str, set[str]] = {}
    offers = {}
    for n in range(30):
        offer = _by_type(search(runtime, customer={"id": f"c-{n}"}))["FLIGHT_ONLY"]
        (variant,) = [e["variant"] for e in offer["experiments"] if e["key"] == "fare-test"]
        seen.setdefault(variant, set()).add(offer["price"]["total"])
        offers[variant] = offer
    assert seen == {"control": {"200.00"}, "promo": {"160.00"}}
    # Without a customer id a search is outside the experiment: the control's prices.
    anonymous = _by_type(search(runtime))["FLIGHT_ONLY"]
    assert anonymous["price"]["total"] == "200.00"
    assert anonymous["experiments"][0]["in_experiment"] is False
    # Re-pricing keeps the customer's variant; the order is an event the experiment counts.
    promo = offers["promo"]
    assert runtime.post(f"/v1/offers/{promo['offer_id']}/price").json()["price_changed"] is False
    made = runtime.post(
        "/v1/orders",
        json={"offer_id": promo["offer_id"], "passengers": passengers(1)},
        headers={"Idempotency-Key": "exp-order"},
    )
    assert made.status_code == 201, made.text
    deadline = time.monotonic() + 5
    while True:  # exposures are written behind the searches
        results = owner.get(f"/v1/experiments/{experiment['id']}/results").json()
        arms = {a["variant"]: a for a in results["primary"]["variants"]}
        if sum(a["units"] for a in arms.values()) == 30 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sum(a["units"] for a in arms.values()) == 30
    assert arms["promo"]["conversions"] == 1
    assert arms["control"]["conversions"] == 0


def test_reading_an_order_past_its_hold_expires_it(
    airline: tuple[Api, Api, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, runtime, flight = airline
    offer = _by_type(search(runtime))["FLIGHT_ONLY"]
    made = runtime.post(
        "/v1/orders",
        json={"offer_id": offer["offer_id"], "passengers": passengers(1)},
        headers={"Idempotency-Key": "read-expire"},
    )
    assert made.status_code == 201, made.text
    made = made.json()
    later = datetime.now(UTC) + timedelta(minutes=16)
    monkeypatch.setattr("offerengine.orders.router.utcnow", lambda: later)
    order = runtime.get(f"/v1/orders/{made['id']}").json()
    assert (order["status"], order["expired_at"] is not None) == ("EXPIRED", True)
    live = runtime.get(f"/v1/inventory/flights/{flight['id']}").json()
    assert all(c["held"] == 0 for c in live["cabins"])


def test_offers_of_a_deleted_tenant_do_not_hold_back_the_others(
    airline: tuple[Api, Api, dict[str, Any]], client: TestClient
) -> None:
    _, runtime, flight = airline
    offer = _by_type(search(runtime))["FLIGHT_ONLY"]
    writer = client.app.state.context.recorder  # type: ignore[attr-defined]
    stored = runtime.get(f"/v1/offers/{offer['offer_id']}").json()
    now = datetime.now(UTC)

    members = _members_of(stored)

    def rows(tenant: uuid.UUID) -> tuple[records.Search, str]:
        return _stored_search(tenant, members, flight["id"], now)

    owner_tenant = uuid.UUID(
        client.get(
            "/v1/admin/tenants/OE", headers={"Authorization": f"Bearer {PLATFORM_KEY}"}
        ).json()["id"]
    )
    (good, good_id), (gone, _) = rows(owner_tenant), rows(uuid.uuid4())
    client.portal.call(writer.record, good, gone)  # type: ignore[union-attr]
    client.portal.call(writer.flush)  # type: ignore[union-attr]
    assert client.portal.call(writer.young, good.key) is None  # type: ignore[union-attr]
    assert client.portal.call(writer.young, gone.key) is None  # type: ignore[union-attr]
    assert runtime.get(f"/v1/offers/{good_id}").status_code == 200


def test_flushes_that_overlap_write_each_search_once(
    airline: tuple[Api, Api, dict[str, Any]], client: TestClient
) -> None:
    from offerengine.recording.writer import Recorder

    _, runtime, flight = airline
    offer = _by_type(search(runtime))["FLIGHT_ONLY"]
    context = client.app.state.context  # type: ignore[attr-defined]
    stored = runtime.get(f"/v1/offers/{offer['offer_id']}").json()
    tenant = uuid.UUID(
        client.get(
            "/v1/admin/tenants/OE", headers={"Authorization": f"Bearer {PLATFORM_KEY}"}
        ).json()["id"]
    )
    # A writer of its own, with no background task: only the two flushes below write.
    writer = Recorder(context.session_factory, is_sqlite=context.is_sqlite)
    record, offer_id = _stored_search(tenant, _members_of(stored), flight["id"], datetime.now(UTC))
    client.portal.call(writer.record, record)  # type: ignore[union-attr]

    async def both() -> list[int]:
        return list(await asyncio.gather(writer.flush(), writer.flush()))

    # The second waits for the first and finds nothing left: writing the same rows twice would
    # have been refused, and the refused batch dropped.
    assert sorted(client.portal.call(both)) == [0, 1]  # type: ignore[union-attr]
    assert runtime.get(f"/v1/offers/{offer_id}").status_code == 200


def test_a_writer_behind_the_database_holds_new_requests_until_a_flush_catches_up(
    airline: tuple[Api, Api, dict[str, Any]],
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from offerengine.db.engine import create_engine
    from offerengine.recording import writer as writing

    _, runtime, flight = airline
    stored = runtime.get(f"/v1/offers/{_by_type(search(runtime))['FLIGHT_ONLY']['offer_id']}")
    context = client.app.state.context  # type: ignore[attr-defined]
    tenant = uuid.UUID(
        client.get(
            "/v1/admin/tenants/OE", headers={"Authorization": f"Bearer {PLATFORM_KEY}"}
        ).json()["id"]
    )
    monkeypatch.setattr(writing, "BACKLOG", 2)
    writer = writing.Recorder(context.session_factory, is_sqlite=context.is_sqlite)
    members = _members_of(stored.json())
    now = datetime.now(UTC)
    for _ in range(3):
        record, _offer_id = _stored_search(tenant, members, flight["id"], now)
        client.portal.call(writer.record, record)  # type: ignore[union-attr]
    assert writer.behind()

    async def wait_then_flush() -> tuple[bool, bool, int]:
        waiting = asyncio.create_task(writer.catch_up())
        await asyncio.sleep(0.05)
        held = not waiting.done()
        written = await writer.flush()
        await asyncio.wait_for(waiting, 5)
        return held, writer.behind(), written

    assert client.portal.call(wait_then_flush) == (True, False, 3)  # type: ignore[union-attr]

    # While the database is away nothing waits: what is pending is kept for later.
    away = create_engine(f"sqlite:///{tmp_path / 'gone' / 'away.db'}")
    (tmp_path / "gone").rmdir()  # the engine made the folder; without it SQLite cannot open
    broken = writing.Recorder(async_sessionmaker(away), is_sqlite=True)
    for _ in range(3):
        record, _offer_id = _stored_search(tenant, members, flight["id"], now)
        client.portal.call(broken.record, record)  # type: ignore[union-attr]

    async def fail_then_wait() -> bool:
        with pytest.raises(Exception):  # noqa: B017, PT011 (whatever the driver raises)
            await broken.flush()
        await asyncio.wait_for(broken.catch_up(), 1)
        await away.dispose()
        return broken.behind()

    assert client.portal.call(fail_then_wait) is False  # type: ignore[union-attr]
    assert client.portal.call(broken.young, record.key) is not None  # type: ignore[union-attr]


def _members_of(offer: dict[str, Any]) -> str:
    """An offer's JSON members that its stored body keeps."""
    own = ("offer_id", "search_id", "created_at", "expires_at", "experiments")
    return json.dumps({k: v for k, v in offer.items() if k not in own})[1:-1]


def _stored_search(
    tenant: uuid.UUID,
    members: str,
    flight_id: str,
    now: datetime,
    *,
    body_id: str | None = None,
    customer_id: str | None = None,
    search_id: str = "s",
) -> tuple[records.Search, str]:
    """A search's record with one FLIGHT_ONLY offer and the body it points at (a new one, unless
    ``body_id`` names one already stored), and the offer's id."""
    key, expires = new_search_key(), now + timedelta(minutes=15)
    body = records.OfferBody(
        id=body_id or new_body_id(), members_json=members, basis_json="{}", expires_at=expires
    )
    own = {
        "offer_type": "FLIGHT_ONLY",
        "flight_id": flight_id,
        "total_minor": 20000,
        "body_id": body.id,
        "expires_at": expires.isoformat(),
    }
    record = records.Search(
        tenant_id=tenant,
        id=key,
        search_id=search_id,
        segment="*",
        customer_id=customer_id,
        currency="USD",
        experiments_json="[]",
        offers_json=json.dumps({"00": own}),
        created_at=now,
        expires_at=expires,
        shown=["FLIGHT_ONLY"],
        bodies=[] if body_id else [body],
    )
    return record, f"{key}00"


def test_an_identical_search_reuses_its_ranking_while_its_flights_counters_read_the_same(
    airline: tuple[Api, Api, dict[str, Any]], client: TestClient
) -> None:
    import sqlalchemy as sa

    from offerengine.inventory import service as inventory
    from offerengine.inventory.core import ResourceKey
    from offerengine.inventory.models import Flight
    from offerengine.recording.writer import Recorder
    from offerengine.shopping.models import StoredSearch
    from offerengine.shopping.offers import find

    owner, runtime, flight = airline
    later = (date.fromisoformat(departure_day()) + timedelta(days=1)).isoformat()
    add_flight(owner, "OE", day=later, number="101")
    context = client.app.state.context  # type: ignore[attr-defined]
    shop = context.shop
    shop.stock_seconds = 0.05  # each search below reads the counters again

    async def bodies(result: dict[str, Any]) -> dict[str, str]:
        await context.recorder.flush()
        async with context.session_factory() as session:
            stored = await session.scalar(
                sa.select(StoredSearch.offers_json).where(
                    StoredSearch.search_id == result["search_id"]
                )
            )
        return {o["offer_type"]: o["body_id"] for o in json.loads(stored).values()}

    def shop_now(**fields: Any) -> tuple[dict[str, Any], dict[str, str]]:
        time.sleep(0.1)
        result = search(runtime, **fields)
        return result, client.portal.call(bodies, result)  # type: ignore[union-attr]

    first, first_bodies = shop_now()
    again, again_bodies = shop_now()
    assert again_bodies == first_bodies  # the ranking was reused: the offers share their bodies
    assert {o["offer_id"] for o in again["offers"]}.isdisjoint(
        o["offer_id"] for o in first["offers"]
    )
    own = ("offer_id", "search_id", "created_at", "expires_at")
    assert [{k: v for k, v in o.items() if k not in own} for o in again["offers"]] == [
        {k: v for k, v in o.items() if k not in own} for o in first["offers"]
    ]
    _, later_bodies = shop_now(day=later)

    async def hold(seats: int) -> None:  # as another worker's order would
        flight_id = uuid.UUID(flight["id"])
        async with context.session_factory() as session, session.begin():
            tenant_id = await session.scalar(sa.select(Flight.tenant_id).filter_by(id=flight_id))
            await inventory.hold(
                session,
                tenant_id=tenant_id,
                needs=[(ResourceKey(f"flight:{flight_id}", "SEAT", "ECONOMY"), seats, 200)],
                policy=await inventory.load_policy(session, tenant_id),
            )

    client.portal.call(hold, 5)  # type: ignore[union-attr]
    changed, changed_bodies = shop_now()
    assert set(changed_bodies.values()).isdisjoint(first_bodies.values())
    fare = _by_type(changed)["FLIGHT_ONLY"]["items"][0]
    assert fare["availability"]["remaining"] == 195
    _, later_again = shop_now(day=later)
    assert later_again == later_bodies  # that flight's counters read the same
    # Customers share rankings too (no experiment or personal model here); each offer keeps its
    # own customer, so an order knows whose it is.
    _, alice_bodies = shop_now(day=later, customer={"id": "alice"})
    bob, bob_bodies = shop_now(day=later, customer={"id": "bob"})
    assert alice_bodies == bob_bodies == later_bodies
    order = {"offer_id": _by_type(bob)["FLIGHT_ONLY"]["offer_id"], "passengers": passengers(1)}
    made = runtime.post("/v1/orders", json=order, headers={"Idempotency-Key": "bob"})
    assert made.status_code == 201, made.text

    async def customer_of(order_id: str) -> str | None:
        from offerengine.orders.models import Order

        async with context.session_factory() as session:
            return await session.scalar(
                sa.select(Order.customer_id).where(Order.id == uuid.UUID(order_id))
            )

    assert client.portal.call(customer_of, made.json()["id"]) == "bob"  # type: ignore[union-attr]

    # An offer row not written yet whose body is (a reused result's) reads back whole.
    shown = _by_type(again)["FLIGHT_ONLY"]
    spare = Recorder(context.session_factory, is_sqlite=True)  # never flushed
    now = datetime.now(UTC)
    record, offer_id = _stored_search(
        uuid.UUID(int=0),
        "",
        flight["id"],
        now,
        body_id=again_bodies["FLIGHT_ONLY"],
        customer_id="someone",
        search_id=shown["search_id"],
    )
    client.portal.call(spare.record, record)  # type: ignore[union-attr]
    found = client.portal.call(find, spare, context.session_factory, offer_id)  # type: ignore[union-attr]
    assert found is not None
    assert found.basis["search"]["customer"]["id"] == "someone"
    assert json.loads(found.body_json) == {
        **shown,
        "offer_id": offer_id,
        "created_at": now.isoformat(),
        "expires_at": (now + timedelta(minutes=15)).isoformat(),
    }
