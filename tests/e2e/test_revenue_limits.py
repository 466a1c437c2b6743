"""Booking limits at run time, on SQLite and PostgreSQL: forecast facts in pricing rules, a cabin
closed to shopping once the family it sells reaches its limit, orders refused past it, and
concurrent orders through a server of several workers never selling beyond ``limit − P``."""

from __future__ import annotations

import csv
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2 as httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from offerengine.app import create_app
from offerengine.cli import app as cli
from offerengine.revenue.core import synthetic
from tests.conftest import make_settings
from tests.helpers import (
    FARE,
    Api,
    add_flight,
    create_key,
    create_tenant,
    departure_day,
    passengers,
    problem,
    search,
    tenant_api,
)
from tests.servers import serve

FAMILIES = [
    {"code": "FLEX", "name": "Flex", "multiplier": "2.1"},
    {"code": "STANDARD", "name": "Standard", "multiplier": "1.3"},
    {"code": "SAVER", "name": "Saver", "multiplier": "1"},
    {"code": "PROMO", "name": "Promo", "multiplier": "0.55"},
]
EDGES = (90, 60, 30, 21, 14, 7, 3, 0)
DAYS_OUT = 7
runner = CliRunner()


def _history(folder: Path) -> Path:
    """Half a year of daily JFK-LHR economy departures whose dear families book late."""
    market = synthetic.Market(
        tuple(f["code"] for f in FAMILIES),
        EDGES,
        np.array(
            [
                [0.5, 0.5, 1, 1, 2, 3, 3, 1],
                [1, 2, 4, 3, 3, 3, 2, 1],
                [3, 5, 8, 6, 4, 2, 1, 0],
                [6, 8, 10, 5, 2, 1, 0, 0],
            ]
        ),
        np.array([1, 0.9, 0.9, 1, 1.2, 1.1, 1.0]),
        limits=(1e9, 1e9, 60, 40),
    )
    first = datetime.now(UTC).date() - timedelta(days=200)
    made = synthetic.history(market, first.isoformat(), 180, seed=1)
    path = folder / "history.csv"
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            [
                *("flight", "departure_date", "origin", "destination", "cabin", "fare_family"),
                *("days_before", "count", "closed"),
            ]
        )
        for i, day in enumerate(made.departures):
            for j, family in enumerate(market.families):
                for k, edge in enumerate(EDGES):
                    out.writerow(
                        [
                            *("OE100", day, "JFK", "LHR", "ECONOMY", family, edge),
                            *(int(made.bookings[i, j, k]), bool(made.closed[i, j, k])),
                        ]
                    )
    return path


def _with_history(owner: Api, database_url: str, folder: Path) -> None:
    """The fare, the route's fare families and their imported history."""
    assert owner.post("/v1/admin/tenants/OE/products", json=FARE).status_code == 201
    made = owner.post(
        "/v1/admin/tenants/OE/fare-family-sets",
        json={"cabin": "ECONOMY", "route": "JFK-LHR", "families": FAMILIES},
    )
    assert made.status_code == 201, made.text
    env = {"OFFERENGINE_DATABASE_URL": database_url, "COLUMNS": "200"}
    imported = runner.invoke(
        cli, ["import-bookings", str(_history(folder)), "--tenant", "OE"], env=env
    )
    assert imported.exit_code == 0, imported.output


def _forecast(owner: Api, flight: dict[str, Any]) -> dict[str, Any]:
    """Forecast the flight's route now; its economy forecast."""
    ran = owner.post(f"/v1/admin/flights/{flight['id']}/revenue/forecast")
    assert ran.status_code == 200, ran.text
    economy = next(c for c in ran.json()["cabins"] if c["cabin"] == "ECONOMY")
    assert economy["forecast"] is not None, economy
    return dict(economy["forecast"])


def _saver(forecast: dict[str, Any]) -> tuple[int, int]:
    """SAVER (multiplier 1, what shopping sells): the seats protected above it, and its limit."""
    saver = next(f for f in forecast["families"] if f["code"] == "SAVER")
    return forecast["seats_left"] - saver["booking_limit"], saver["booking_limit"]


def _fare(offer: dict[str, Any]) -> Decimal:
    flight_item = next(i for i in offer["items"] if i["type"] == "FLIGHT")
    return Decimal(flight_item["passengers"][0]["unit_price"])


def _order(runtime: Api, offer: dict[str, Any], adults: int, key: str) -> Any:
    return runtime.post(
        "/v1/orders",
        json={"offer_id": offer["offer_id"], "passengers": passengers(adults)},
        headers={"Idempotency-Key": key},
    )


# --- forecast facts in pricing rules --------------------------------------------------------------


DEMAND = {
    "rule_name": "Forecast demand",
    "rule_type": "DEMAND",
    "conditions": {"product_type": "FLIGHT", "cabin_class": "ECONOMY"},
    "adjustments": {"type": "MULTIPLIER", "formula": "1 + forecast_load_factor / 10"},
    "priority": 10,
}


def test_a_demand_rule_on_the_forecast_load_factor_prices_a_flight_once_it_is_forecast(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, availability_cache_seconds=0.2)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner = tenant_api(client, "OE")
        _with_history(owner, database_url, tmp_path)
        rule = owner.post("/v1/admin/tenants/OE/pricing-rules", json=DEMAND)
        assert rule.status_code == 201, rule.text
        flight = add_flight(owner, "OE", day=departure_day(DAYS_OUT), cabins={"ECONOMY": 40})
        runtime = Api(client, create_key(client, "OE", "runtime"))
        day = departure_day(DAYS_OUT)

        # No forecast yet: the fact is missing, so the rule does not apply.
        before = search(runtime, day=day, passengers={"adults": 1})["offers"][0]
        assert _fare(before) == Decimal("200.00")

        forecast = _forecast(owner, flight)
        to_come = Decimal(repr(round(sum(f["demand_mean"] for f in forecast["families"]), 2)))
        assert to_come > 0
        time.sleep(0.3)  # the worker's read of counters (and controls) is renewed
        after = search(runtime, day=day, passengers={"adults": 1})["offers"][0]
        load = to_come / 40
        assert _fare(after) == (Decimal("200.00") * (1 + load / 10)).quantize(Decimal("0.01"))
        assert _fare(after) > _fare(before)

        # The rule's Test (simulate) takes the forecast facts as any other, and says when the
        # rule needs one that is missing.
        fare_id = owner.get("/v1/admin/tenants/OE/products").json()["items"][0]["id"]
        simulated = owner.post(
            "/v1/admin/pricing-rules/simulate",
            json={
                "product_id": fare_id,
                "scenario": {
                    "cabin_class": "ECONOMY",
                    "forecast_load_factor": 1.5,
                    "bid_price": "120.00",
                    "booking_limit": 3,
                    "protection_level": 12,
                    "expected_demand": 30,
                },
            },
        )
        assert simulated.status_code == 200, simulated.text
        assert simulated.json()["final_price"] == "230.00"
        missing = owner.post(
            "/v1/admin/pricing-rules/simulate",
            json={"product_id": fare_id, "scenario": {"cabin_class": "ECONOMY"}},
        ).json()
        assert missing["final_price"] == "200.00"
        assert missing["skipped"][0]["reason"] == "missing fact forecast_load_factor"
        wrong = owner.post(
            "/v1/admin/pricing-rules/simulate",
            json={"product_id": fare_id, "scenario": {"bid_price": "lots"}},
        )
        assert problem(wrong, 422)["errors"][0]["loc"] == ["body", "scenario", "bid_price"]


# --- a family closed by its limit -----------------------------------------------------------------


def test_a_cabin_closes_to_shopping_and_orders_once_the_family_it_sells_reaches_its_limit(
    database_url: str, tmp_path: Path
) -> None:
    # Counters read for every search: the forecast is seen at once.
    settings = make_settings(database_url, tmp_path, availability_cache_seconds=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner = tenant_api(client, "OE")
        _with_history(owner, database_url, tmp_path)
        day = departure_day(DAYS_OUT)
        flight = add_flight(owner, "OE", day=day, cabins={"ECONOMY": 20})
        runtime = Api(client, create_key(client, "OE", "runtime"))
        protected, limit = _saver(_forecast(owner, flight))
        assert protected > 0, "the forecast protects nothing: the test would prove nothing"
        assert limit >= 2

        # Offered while the limit allows, showing the seats the family may still sell.
        late = search(runtime, day=day, passengers={"adults": 1})["offers"][0]
        shown = search(runtime, day=day, passengers={"adults": 2})["offers"][0]
        flight_item = next(i for i in shown["items"] if i["type"] == "FLIGHT")
        assert flight_item["availability"]["remaining"] == limit
        too_many = search(runtime, day=day, passengers={"adults": min(limit + 1, 9)})
        if limit + 1 <= 9:
            assert too_many["offers"] == []
            assert any(
                "fare family SAVER closed by its booking limit" in w for w in too_many["warnings"]
            ), too_many["warnings"]

        # Sell the family's limit, in orders of at most nine.
        left, n = limit, 0
        while left > 0:
            adults = min(left, 9)
            offer = search(runtime, day=day, passengers={"adults": adults})["offers"][0]
            made = _order(runtime, offer, adults, f"fill-{n}")
            assert made.status_code == 201, made.text
            left -= adults
            n += 1

        closed = search(runtime, day=day, passengers={"adults": 1})
        assert closed["offers"] == []
        (warning,) = closed["warnings"]
        assert "OE100: ECONOMY: fare family SAVER closed by its booking limit" in warning
        assert f"{protected} protected for the families above it" in warning
        # An offer made before is refused as sold out, saying why.
        refused = problem(_order(runtime, late, 1, "late"), 409)
        assert "fare family SAVER: it is closed by its booking limit" in refused["detail"]
        # The protected seats are still there, kept for the dearer families.
        live = runtime.get(f"/v1/inventory/flights/{flight['id']}").json()
        economy = next(c for c in live["cabins"] if c["resource"] == "ECONOMY")
        assert (economy["held"], economy["sellable"]) == (limit, protected)


# --- concurrent orders ------------------------------------------------------------------------------


ATTEMPTS = 30


@pytest.mark.slow
def test_concurrent_orders_never_sell_a_family_beyond_its_limit(
    database_url: str, tmp_path: Path
) -> None:
    with (
        serve(database_url, tmp_path, workers=3) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        create_tenant(client, "OE")
        owner = Api(client, create_key(client, "OE", "owner"))
        _with_history(owner, database_url, tmp_path)
        day = departure_day(DAYS_OUT)
        flight = add_flight(owner, "OE", day=day, cabins={"ECONOMY": 20})
        protected, limit = _saver(_forecast(owner, flight))
        assert protected > 0
        assert limit > 0
        runtime = Api(client, create_key(client, "OE", "runtime"))
        offers = []
        for i in range(ATTEMPTS):  # offers for 1 or 2 passengers, made up front
            found = search(runtime, day=day, passengers={"adults": 1 + i % 2})["offers"]
            assert found, "the family is open before any order"
            offers.append(found[0])

        def attempt(i: int) -> tuple[int, dict[str, Any]]:
            with httpx.Client(base_url=url, timeout=60) as own:
                response = _order(Api(own, runtime.key), offers[i], 1 + i % 2, f"race-{i}")
            return response.status_code, response.json()

        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(attempt, range(ATTEMPTS)))
        assert {s for s, _ in results} <= {201, 409}, results
        accepted = [body for status, body in results if status == 201]
        refused = [body for status, body in results if status == 409]
        held = sum(len(o["passengers"]) for o in accepted)
        assert 0 < held <= limit
        assert refused
        assert all("closed by its booking limit" in b["detail"] for b in refused)
        live = runtime.get(f"/v1/inventory/flights/{flight['id']}").json()
        economy = next(c for c in live["cabins"] if c["resource"] == "ECONOMY")
        assert economy["held"] + economy["sold"] == held
        assert economy["sellable"] == 20 - held >= protected
