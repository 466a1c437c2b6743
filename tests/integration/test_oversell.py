"""Never oversell: many concurrent orders for a flight with few seats, through a real server with
several workers, on SQLite and PostgreSQL; and a confirmed order survives ``kill -9``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import PLATFORM_KEY, free_port
from tests.helpers import FARE, Api, add_flight, create_key, create_tenant, passengers, search
from tests.servers import serve

pytestmark = pytest.mark.slow
SEATS = 7  # with 5 % overbooking: floor(7 × 1.05) = 7 sellable
LEGROOM = {
    "product_type": "SEAT",
    "product_code": "SEAT-EXTRA-LEG",
    "name": "Extra legroom seat",
    "category": "EXTRA_LEGROOM",
    "base_price": "45.00",
    "metadata": {"inventory": {"per": "flight", "capacity": 5}},
}
ATTEMPTS = 40


def _airline(client: httpx.Client) -> tuple[Api, Api, dict[str, Any]]:
    create_tenant(client, "OE")
    owner = Api(client, create_key(client, "OE", "owner"))
    for product in (FARE, LEGROOM):
        assert owner.post("/v1/admin/tenants/OE/products", json=product).status_code == 201
    owner.post(
        "/v1/admin/tenants/OE/bundles",
        json={
            "bundle_name": "Comfort",
            "bundle_type": "COMFORT",
            "product_types": [
                {"type": "FLIGHT", "required": True},
                {"type": "SEAT", "category": "EXTRA_LEGROOM", "required": False},
            ],
        },
    )
    owner.post(
        "/v1/admin/tenants/OE/inventory-rules",
        json={"resource_type": "SEAT", "overbooking_percentage": "5"},
    )
    owner.post(
        "/v1/admin/tenants/OE/inventory-rules",
        json={"resource_type": "SEAT", "resource": "SEAT-EXTRA-LEG"},
    )
    flight = add_flight(owner, "OE", cabins={"ECONOMY": SEATS})
    runtime = Api(client, create_key(client, "OE", "runtime"))
    return owner, runtime, flight


def test_concurrent_orders_never_oversell_and_each_holds_all_or_nothing(
    database_url: str, tmp_path: Path
) -> None:
    with (
        serve(database_url, tmp_path, workers=3) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        _, runtime, flight = _airline(client)
        # Offers for 1 or 2 passengers, flight only and with extra-legroom seats, made up front.
        offers = []
        for i in range(ATTEMPTS):
            found = search(runtime, passengers={"adults": 1 + i % 2})["offers"]
            offers.append(found[i % len(found)])

        def attempt(i: int) -> tuple[int, dict[str, Any]]:
            offer = offers[i]
            adults = 1 + i % 2
            with httpx.Client(base_url=url, timeout=60) as own:
                response = Api(own, runtime.key).post(
                    "/v1/orders",
                    json={"offer_id": offer["offer_id"], "passengers": passengers(adults)},
                    headers={"Idempotency-Key": f"race-{i}"},
                )
            return response.status_code, response.json()

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(attempt, range(ATTEMPTS)))
        statuses = sorted({s for s, _ in results})
        assert set(statuses) <= {201, 409}, results
        accepted = [body for status, body in results if status == 201]
        assert accepted, "no order went through"
        for order in accepted:  # every accepted order holds everything its items need
            seats = len(order["passengers"])
            held = {(h["resource_type"], h["resource"]): h["quantity"] for h in order["holds"]}
            assert held[("SEAT", "ECONOMY")] == seats
            if any(i["product_code"] == "SEAT-EXTRA-LEG" for i in order["items"]):
                assert held[("SEAT", "SEAT-EXTRA-LEG")] == seats
        live = runtime.get(f"/v1/inventory/flights/{flight['id']}").json()
        counters = {c["resource"]: c for c in live["cabins"] + live["ancillaries"]}
        economy, legroom = counters["ECONOMY"], counters["SEAT-EXTRA-LEG"]
        assert economy["held"] + economy["sold"] <= SEATS
        assert legroom["held"] + legroom["sold"] <= 5
        held_economy = sum(
            h["quantity"] for o in accepted for h in o["holds"] if h["resource"] == "ECONOMY"
        )
        assert held_economy == economy["held"]  # nothing held outside an accepted order
        assert economy["sellable"] == SEATS - held_economy


def test_a_confirmed_order_survives_kill_9(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "OFFERENGINE_DATABASE_URL": database_url,
        "OFFERENGINE_PLATFORM_KEY": PLATFORM_KEY,
        "OFFERENGINE_ACCESS_LOG": "false",
        "OFFERENGINE_LOG_LEVEL": "WARNING",
        "OFFERENGINE_VAR_DIR": str(tmp_path),
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "offerengine", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base)
        with httpx.Client(base_url=base, timeout=30) as client:
            _, runtime, flight = _airline(client)
            confirmed = []
            # Load running while the process dies: orders confirmed before the kill must persist.
            for i in range(6):
                offer = search(runtime)["offers"][0]
                order = runtime.post(
                    "/v1/orders",
                    json={"offer_id": offer["offer_id"], "passengers": passengers(1)},
                    headers={"Idempotency-Key": f"kill-{i}"},
                ).json()
                done = runtime.post(
                    f"/v1/orders/{order['id']}/confirm", json={"payment_reference": f"P{i}"}
                )
                assert done.status_code == 200, done.text
                confirmed.append(order["id"])
            pool = ThreadPoolExecutor(4)
            pending = [pool.submit(search, runtime) for _ in range(8)]
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            for future in pending:
                with contextlib.suppress(httpx.HTTPError, AssertionError):
                    future.result()  # or the server died under it
            pool.shutdown()
            runtime_key = runtime.key
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
    with serve(database_url, tmp_path) as url, httpx.Client(base_url=url, timeout=30) as client:
        again = Api(client, runtime_key)
        for order_id in confirmed:
            found = again.get(f"/v1/orders/{order_id}")
            assert found.status_code == 200
            assert found.json()["status"] == "CONFIRMED"
        live = again.get(f"/v1/inventory/flights/{flight['id']}").json()
        economy = next(c for c in live["cabins"] if c["resource"] == "ECONOMY")
        assert economy["sold"] == len(confirmed)


def _wait(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")
