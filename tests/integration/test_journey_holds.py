"""Journeys never oversell: many concurrent orders of round trips whose connecting segments have
few seats, through a real server with two workers, on SQLite and PostgreSQL. Each accepted order
holds every segment of every slice; a refused one holds nothing."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.helpers import (
    FARE,
    Api,
    add_flight,
    create_key,
    create_tenant,
    departure_day,
    passengers,
)
from tests.servers import serve

pytestmark = pytest.mark.slow
OUT = departure_day(10)
BACK = (date.fromisoformat(OUT) + timedelta(days=5)).isoformat()
SCARCE = 5  # economy seats on JFK→LHR: the outbound slice's second segment
ATTEMPTS = 24
PORTS = range(18150, 18200)  # this suite's servers


def _port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18150-18199")


def _flight(
    owner: Api, number: str, route: str, day: str, times: str, seats: int
) -> dict[str, Any]:
    origin, destination = route.split("-")
    leaves, lands = times.split("-")
    later = (date.fromisoformat(day) + timedelta(days=1)).isoformat() if "+" in lands else day
    return add_flight(
        owner,
        "OE",
        day=day,
        number=number,
        origin=origin,
        destination=destination,
        departure_local=f"{day}T{leaves}:00",
        arrival_local=f"{later}T{lands.removesuffix('+1')}:00",
        cabins={"ECONOMY": seats},
    )


def test_concurrent_journey_orders_never_oversell_a_segment_and_hold_all_or_nothing(
    database_url: str, tmp_path: Path
) -> None:
    with (
        serve(database_url, tmp_path, workers=2, port=_port()) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        create_tenant(client, "OE")
        owner = Api(client, create_key(client, "OE", "owner"))
        assert owner.post("/v1/admin/tenants/OE/products", json=FARE).status_code == 201
        owner.put(
            "/v1/admin/tenants/OE/offer-rules",
            json={"offer_types": [{"type": "FLIGHT_ONLY", "priority": 1, "always_include": True}]},
        )
        flights = {
            "200": _flight(owner, "200", "BOS-JFK", OUT, "15:00-16:15", 100),
            "100": _flight(owner, "100", "JFK-LHR", OUT, "19:00-07:10+1", SCARCE),
            "101": _flight(owner, "101", "LHR-JFK", BACK, "08:30-11:30", 100),
            "201": _flight(owner, "201", "JFK-BOS", BACK, "13:00-14:15", 100),
        }
        runtime = Api(client, create_key(client, "OE", "runtime"))
        offers = []
        for i in range(ATTEMPTS):
            found = runtime.post(
                "/v1/offers/search",
                json={
                    "slices": [
                        {"origin": "BOS", "destination": "LHR", "date": OUT},
                        {"origin": "LHR", "destination": "BOS", "date": BACK},
                    ],
                    "passengers": {"adults": 1 + i % 2},
                },
            )
            assert found.status_code == 200, found.text
            (offer,) = found.json()["offers"]  # the one routing: via JFK both ways
            offers.append(offer)

        def attempt(i: int) -> tuple[int, dict[str, Any]]:
            with httpx.Client(base_url=url, timeout=60) as own:
                response = Api(own, runtime.key).post(
                    "/v1/orders",
                    json={"offer_id": offers[i]["offer_id"], "passengers": passengers(1 + i % 2)},
                    headers={"Idempotency-Key": f"journey-race-{i}"},
                )
            return response.status_code, response.json()

        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(attempt, range(ATTEMPTS)))
        assert {s for s, _ in results} <= {201, 409}, results
        accepted = [body for status, body in results if status == 201]
        assert accepted, "no order went through"
        scopes = {f"flight:{f['id']}": number for number, f in flights.items()}
        held: dict[str, int] = dict.fromkeys(flights, 0)
        for order in accepted:  # every segment of both slices, for every passenger
            seats = len(order["passengers"])
            mine = {scopes[h["scope"]]: h["quantity"] for h in order["holds"]}
            assert mine == dict.fromkeys(flights, seats), order["holds"]
            for number, quantity in mine.items():
                held[number] += quantity
        assert held["100"] <= SCARCE
        assert SCARCE - held["100"] < 2  # the last seat or two may be too few for a pair
        for number, flight in flights.items():
            live = runtime.get(f"/v1/inventory/flights/{flight['id']}").json()
            (economy,) = live["cabins"]
            assert economy["held"] + economy["sold"] == held[number], (number, economy)
