"""Revenue management in the admin UI: a flight's page shows each cabin's booking curve with the
forecast band and its fare families' limits (Chart.js configurations, like the dashboard's), and
the booking simulator's page compares the three booking policies."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from offerengine.settings import Settings
from offerengine.web import revenue_charts
from tests.conftest import PLATFORM_KEY
from tests.e2e.test_admin_pages import demo_settings, logged_in  # noqa: F401 (a fixture)
from tests.e2e.test_revenue_api import ECONOMY, SETS, _cli, _history_files
from tests.helpers import Api

CABIN: dict[str, Any] = {
    "cabin": "ECONOMY",
    "capacity": 150,
    "booked": 40,
    "why": None,
    "booking_curve": [
        {"days_before": 90, "until": 60, "bookings": 10, "by_family": {"PROMO": 10}},
        {"days_before": 60, "until": 30, "bookings": 30, "by_family": {"PROMO": 20, "SAVER": 10}},
    ],
    "forecast": {
        "days_before": 30,
        "seats_left": 110,
        "bid_price": "180.00",
        "currency": "USD",
        "accuracy": None,
        "families": [
            {"code": "FLEX", "booked": 0, "demand_mean": 9.0, "demand_sd": 3.0,
             "protection": 0.0, "booking_limit": 110},
            {"code": "SAVER", "booked": 10, "demand_mean": 40.0, "demand_sd": 4.0,
             "protection": 12.4, "booking_limit": 97},
            {"code": "PROMO", "booked": 30, "demand_mean": 60.0, "demand_sd": 0.0,
             "protection": 55.1, "booking_limit": 54},
        ],
    },
}  # fmt: skip


def test_the_booking_curve_cumulates_each_family_and_draws_the_forecast_band() -> None:
    chart = revenue_charts.booking_curve(CABIN)
    assert chart["data"]["labels"] == ["90", "60", "0"]
    series = {d["label"]: d["data"] for d in chart["data"]["datasets"]}
    assert series["PROMO booked"] == [10, 30]
    assert series["SAVER booked"] == [0, 10]
    # Booked 40 now; 109 to come with sd 5 (√(9 + 16)): capped at the cabin's 150 seats.
    assert series["forecast at departure"] == [None, 40, 149]
    assert series["forecast - 1 sd"] == [None, 40, 144]
    assert series["forecast + 1 sd"] == [None, 40, 150]
    assert series["capacity"] == [150, 150, 150]
    limits = revenue_charts.limits(CABIN)
    assert limits["data"]["labels"] == ["FLEX", "SAVER", "PROMO"]
    by = {d["label"]: d["data"] for d in limits["data"]["datasets"]}
    assert by["booking limit"] == [110, 97, 54]
    assert by["protected above"] == [0.0, 12.4, 55.1]
    # No forecast: the curve alone, no band.
    alone = revenue_charts.booking_curve({**CABIN, "forecast": None})
    assert [d["label"] for d in alone["data"]["datasets"]] == ["PROMO booked", "SAVER booked"]


def _config(page: str, name: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" id="cfg-{name}">(.*?)</script>', page, re.S
    )
    assert found, name
    return dict(json.loads(found.group(1)))


def test_the_flight_page_and_the_simulator_page_draw_revenue_management(
    demo_settings: Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    client = logged_in(demo_settings, "own@oe.example")
    try:
        flights = client.get("/admin/flights").text
        first = re.search(r'href="/admin/flights/([0-9a-f-]{36})"', flights)
        assert first
        page = client.get(f"/admin/flights/{first.group(1)}")
        assert page.status_code == 200
        assert "Revenue management" in page.text
        assert "No forecast:" in page.text  # the demo has none until one is run
        assert 'href="/admin/revenue/simulator"' in page.text

        # A history and a forecast: JFK-LHR's flights get the band and the limits.
        assert Api(client, PLATFORM_KEY).post(SETS, json=ECONOMY).status_code == 201
        text, _ = _history_files(tmp_path, datetime.now(UTC).date())
        assert _cli(demo_settings, "import-bookings", str(text), "--tenant", "OE").exit_code == 0
        assert _cli(demo_settings, "forecast", "--tenant", "OE").exit_code == 0
        to_lhr = client.get("/admin/flights", params={"origin": "JFK", "destination": "LHR"})
        ids = re.findall(r'href="/admin/flights/([0-9a-f-]{36})"', to_lhr.text)
        forecast = next(
            p for p in (client.get(f"/admin/flights/{i}").text for i in ids) if "bid price" in p
        )
        curve = _config(forecast, "curve-economy")
        labels = [d["label"] for d in curve["data"]["datasets"]]
        assert {"forecast at departure", "forecast - 1 sd", "forecast + 1 sd"} <= set(labels)
        limits = _config(forecast, "limits-economy")
        assert limits["data"]["labels"] == ["FLEX", "STANDARD", "SAVER", "PROMO"]
        booking_limits = next(
            d["data"] for d in limits["data"]["datasets"] if d["label"] == "booking limit"
        )
        assert booking_limits == sorted(booking_limits, reverse=True)
        assert "Fare families of economy, highest first" in forecast

        shown = client.get("/admin/revenue/simulator", params={"departures": 10, "seed": 3})
        assert shown.status_code == 200
        chart = _config(shown.text, "simulator")
        assert chart["data"]["labels"] == ["fcfs", "emsr-b", "emsr-b+prices"]
        revenue, load = (d["data"] for d in chart["data"]["datasets"])
        assert revenue[1] > revenue[0]
        assert all(0 < v <= 100 for v in load)
        assert "Learned prices, off-policy on" in shown.text
        assert "<td>emsr-b+prices</td>" in shown.text
        for bad in ({"departures": 0}, {"departures": 101}, {"seed": -1}):
            assert client.get("/admin/revenue/simulator", params=bad).status_code == 422
    finally:
        client.__exit__(None, None, None)
