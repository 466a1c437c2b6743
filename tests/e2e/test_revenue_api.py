"""Revenue management end to end, on SQLite and PostgreSQL: fare family sets as a configuration
kind, booking histories from orders and from imported files, forecast runs (the command, the
endpoint and the server's schedule) and a flight's revenue as the API answers it."""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from offerengine.app import create_app
from offerengine.auth.core import Actor, ActorKind
from offerengine.cli import app as cli
from offerengine.db.engine import create_sync_engine
from offerengine.demo import service as demo
from offerengine.revenue import forecasting, history
from offerengine.revenue import service as families
from offerengine.revenue.core import synthetic
from offerengine.revenue.core.history import assemble
from offerengine.revenue.models import ImportedBooking, RevenueForecast, RevenueForecastFamily
from offerengine.settings import Settings
from offerengine.tenants import service as tenants
from offerengine.units import run_in_transaction
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

SETS = "/v1/admin/tenants/OE/fare-family-sets"
FAMILIES = [
    {"code": "FLEX", "name": "Flex", "multiplier": "2.1"},
    {"code": "STANDARD", "name": "Standard", "multiplier": "1.3"},
    {"code": "SAVER", "name": "Saver", "multiplier": "1"},
    {"code": "PROMO", "name": "Promo", "multiplier": "0.55"},
]
ECONOMY = {"cabin": "ECONOMY", "route": "JFK-LHR", "families": FAMILIES}
EDGES = (90, 60, 30, 21, 14, 7, 3, 0)
SYSTEM = Actor(ActorKind.SYSTEM, None, "test")
runner = CliRunner()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def _in_transaction(settings: Settings, work: Any) -> Any:
    return asyncio.run(run_in_transaction(settings, work))


def _cli(settings: Settings, *args: str) -> Any:
    env = {"OFFERENGINE_DATABASE_URL": settings.database_url, "COLUMNS": "200"}
    return runner.invoke(cli, list(args), env=env)


# --- fare family sets ------------------------------------------------------------------------------


def test_a_fare_family_set_is_versioned_rolled_back_exported_imported_and_audited(
    client: TestClient,
) -> None:
    owner = tenant_api(client, "OE")
    made = owner.post(SETS, json=ECONOMY)
    assert made.status_code == 201, made.text
    assert made.headers["ETag"] == '"1"'
    created = made.json()
    assert created["booking_periods"] == list(EDGES)
    assert [f["multiplier"] for f in created["families"]] == ["2.1", "1.3", "1", "0.55"]
    path = f"/v1/admin/fare-family-sets/{created['id']}"
    cheaper = {**ECONOMY, "families": [*FAMILIES[:3], {**FAMILIES[3], "multiplier": "0.5"}]}
    changed = owner.put(path, json=cheaper, headers={"If-Match": '"1"'})
    assert (changed.status_code, changed.json()["version"]) == (200, 2)
    problem(owner.put(path, json=ECONOMY, headers={"If-Match": '"1"'}), 409)
    rolled = owner.post(f"{path}/rollback", json={"version": 1})
    assert rolled.status_code == 200, rolled.text
    assert owner.get(path).json()["families"][3]["multiplier"] == "0.55"
    versions = owner.get(f"{path}/versions").json()["items"]
    assert [v["action"] for v in versions] == ["create", "update", "rollback"]

    exported = owner.get(f"{SETS}/export").json()
    families = exported["fare_family_sets"][0]["families"]
    assert [{k: f[k] for k in ("code", "name", "multiplier")} for f in families] == FAMILIES
    assert families[0]["attributes"]["changes"] == "not_allowed"  # the defaults, written out
    business = {"cabin": "BUSINESS", "families": [{"code": "J", "name": "J", "multiplier": "1"}]}
    imported = owner.post(
        f"{SETS}/import",
        json={"fare_family_sets": [*exported["fare_family_sets"], business]},
    ).json()
    assert (imported["created"], imported["updated"], imported["unchanged"]) == (1, 0, 1)
    listed = owner.get(SETS).json()["items"]
    assert [(s["cabin"], s["route"]) for s in listed] == [
        ("BUSINESS", None),
        ("ECONOMY", "JFK-LHR"),
    ]
    audit = owner.get("/v1/admin/tenants/OE/audit", params={"object_type": "fare_family_set"})
    actions = [e["action"] for e in audit.json()["items"]]
    assert actions.count("fare_family_set.create") == 2
    assert "fare_family_set.rollback" in actions


def test_a_bad_fare_family_set_is_refused_naming_the_field_and_a_taken_scope_is_a_409(
    client: TestClient,
) -> None:
    owner = tenant_api(client, "OE")
    unnested = {**ECONOMY, "families": [FAMILIES[2], FAMILIES[0], FAMILIES[2]]}
    found = problem(owner.post(SETS, json=unnested | {"booking_periods": [3, 7]}), 422)
    assert error_locs(found) == [
        ["body", "families", 1, "multiplier"],
        ["body", "families", 2, "code"],
        ["body", "booking_periods"],
    ]
    for bad, loc in (
        ({**ECONOMY, "route": "JFK"}, ["body", "route"]),
        ({**ECONOMY, "cabin": "STEERAGE"}, ["body", "cabin"]),
        ({**ECONOMY, "families": []}, ["body", "families"]),
        ({**ECONOMY, "families": [{**FAMILIES[0], "multiplier": "0"}]}, None),
        ({**ECONOMY, "families": [{**FAMILIES[0], "code": "fl ex"}]}, None),
        (
            {**ECONOMY, "families": [{**FAMILIES[0], "attributes": {"refunds": "fee"}}]},
            ["body", "families", 0, "attributes", "refund_fee"],
        ),
        (
            {**ECONOMY, "families": [{**FAMILIES[0], "attributes": {"change_fee": "10.00"}}]},
            ["body", "families", 0, "attributes", "change_fee"],
        ),
        (
            {**ECONOMY, "families": [{**FAMILIES[0], "attributes": {"checked_bags": 9}}]},
            ["body", "families", 0, "attributes", "checked_bags"],
        ),
    ):
        assert (loc is None) or loc in error_locs(problem(owner.post(SETS, json=bad), 422))
    assert owner.post(SETS, json=ECONOMY).status_code == 201
    assert error_locs(problem(owner.post(SETS, json=ECONOMY), 409)) == [["body", "route"]]
    assert owner.get(SETS).json()["items"][0]["version"] == 1


# --- a flight's revenue --------------------------------------------------------------------------


def test_a_flights_revenue_is_a_404_for_an_unknown_or_anothers_flight_and_empty_until_forecast(
    client: TestClient,
) -> None:
    owner = tenant_api(client, "OE")
    flight = add_flight(owner, "OE")
    other = Api(client, create_key(client, "OE", "viewer"))
    tenant_api(client, "ZZ")
    stranger = Api(client, create_key(client, "ZZ", "owner"))
    path = f"/v1/admin/flights/{flight['id']}/revenue"
    problem(stranger.get(path), 404)
    problem(stranger.post(f"{path}/forecast"), 404)
    problem(owner.get("/v1/admin/flights/00000000-0000-4000-8000-000000000000/revenue"), 404)
    problem(other.post(f"{path}/forecast"), 403)
    empty = other.get(path)
    assert empty.status_code == 200, empty.text
    cabins = {c["cabin"]: c for c in empty.json()["cabins"]}
    assert set(cabins) == {"ECONOMY", "BUSINESS"}
    assert cabins["ECONOMY"]["forecast"] is None
    assert "no forecast" in cabins["ECONOMY"]["why"]
    assert [p["days_before"] for p in cabins["ECONOMY"]["booking_curve"]] == list(EDGES)
    # With no history, a run on demand forecasts nothing, and says why.
    ran = owner.post(f"{path}/forecast").json()
    assert ran["run"]["cabins"] == 0
    assert ran["run"]["skipped"] == {"fewer than 2 past departures": 2}
    assert all(c["forecast"] is None for c in ran["cabins"])


def _book(runtime: Api, day: str, adults: int, key: str) -> None:
    offer = search(runtime, day=day, passengers={"adults": adults})["offers"][0]
    body = {"offer_id": offer["offer_id"], "passengers": passengers(adults)}
    order = runtime.post("/v1/orders", json=body, headers={"Idempotency-Key": key})
    assert order.status_code == 201, order.text
    confirmed = runtime.post(
        f"/v1/orders/{order.json()['id']}/confirm", json={"payment_reference": key}
    )
    assert confirmed.status_code == 200, confirmed.text


def test_confirmed_orders_are_the_history_that_forecasts_the_flights_to_come(
    client: TestClient, settings: Settings
) -> None:
    owner = tenant_api(client, "OE")
    assert owner.post("/v1/admin/tenants/OE/products", json=FARE).status_code == 201
    assert owner.post(SETS, json=ECONOMY).status_code == 201
    runtime = Api(client, create_key(client, "OE", "runtime"))
    for days, seats in ((2, 3), (3, 10), (4, 10)):
        add_flight(owner, "OE", day=departure_day(days), cabins={"ECONOMY": seats})
    coming = add_flight(owner, "OE", day=departure_day(20), cabins={"ECONOMY": 100})
    _book(runtime, departure_day(2), 2, "a")
    _book(runtime, departure_day(2), 1, "b")  # the 3-seat cabin sells out
    _book(runtime, departure_day(3), 4, "c")
    _book(runtime, departure_day(4), 2, "d")
    _book(runtime, departure_day(20), 2, "e")
    later = datetime.now(UTC) + timedelta(days=5)  # the three early flights have left

    async def work(session: AsyncSession) -> tuple[Any, Any]:
        tenant = await tenants.find(session, "OE")
        assert tenant is not None
        loaded = await history.load(session, tenant.id, today=later.date())
        sets = families.Ladders(await families.list_sets(session, tenant_id=tenant.id))
        markets = assemble(loaded.past, sets.ladder, before=later.date(), filled=loaded.filled)
        done = await forecasting.run(session, tenant_id=tenant.id, now=later)
        return markets[("JFK-LHR", "ECONOMY")], done

    market, done = _in_transaction(settings, work)
    # Orders of no known family count in the family sold at the cabin fare (multiplier 1).
    assert market.history.bookings.sum(axis=(0, 2)).tolist() == [0, 0, 9, 0]
    assert market.history.bookings[:, 2].sum(axis=1).tolist() == [3, 4, 2]
    sold_out = market.history.closed[0]
    assert sold_out[:, -1].all()
    assert not market.history.closed[1:].any()
    assert (done.markets, done.cabins) == (1, 1)

    revenue = owner.get(f"/v1/admin/flights/{coming['id']}/revenue").json()
    (economy,) = revenue["cabins"]
    forecast = economy["forecast"]
    assert forecast["history_departures"] == 3
    assert forecast["seats_left"] == 98
    assert forecast["currency"] == "USD"
    assert [f["fare"] for f in forecast["families"]] == ["420.00", "260.00", "200.00", "110.00"]
    assert [f["booked"] for f in forecast["families"]] == [0, 0, 2, 0]
    assert economy["booked"] == 2
    period = next(p for p in economy["booking_curve"] if p["days_before"] == 21)
    assert (period["until"], period["bookings"], period["by_family"]["SAVER"]) == (15, 2, 2)
    limits = [f["booking_limit"] for f in forecast["families"]]
    assert limits[0] == 98
    assert limits == sorted(limits, reverse=True)


# --- the demo tenant, an imported history and the command -----------------------------------------


def _history_files(folder: Path, today: date) -> tuple[Path, Path]:
    """A year of daily JFK-LHR economy departures with known demand, half as CSV and half as
    Parquet: the two cheap families closed once they reached their limits."""
    curve = np.array(
        [
            [0.5, 0.5, 1, 1, 2, 3, 3, 1],
            [1, 2, 4, 3, 3, 3, 2, 1],
            [3, 5, 8, 6, 4, 2, 1, 0],
            [6, 8, 10, 5, 2, 1, 0, 0],
        ]
    )
    market = synthetic.Market(
        tuple(f["code"] for f in FAMILIES),
        EDGES,
        curve,
        np.array([1, 0.9, 0.9, 1, 1.2, 1.1, 1.0]),
        limits=(1e9, 1e9, 60, 40),
    )
    made = synthetic.history(market, str(today - timedelta(days=200)), 180, seed=1)
    rows = [
        {
            "flight": "OE100",
            "departure_date": str(day),
            "origin": "JFK",
            "destination": "LHR",
            "cabin": "ECONOMY",
            "fare_family": family,
            "days_before": edge,
            "count": int(made.bookings[i, j, k]),
            "closed": bool(made.closed[i, j, k]),
        }
        for i, day in enumerate(made.departures)
        for j, family in enumerate(market.families)
        for k, edge in enumerate(EDGES)
    ]
    half = len(rows) // 2
    text = folder / "history.csv"
    with text.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:half])
    table = pa.Table.from_pylist(
        [{**r, "departure_date": date.fromisoformat(r["departure_date"])} for r in rows[half:]]
    )
    parquet = folder / "history.parquet"
    pq.write_table(table, parquet)
    return text, parquet


def test_a_forecast_of_the_demo_tenant_stores_rows_and_answers_nested_limits(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    _in_transaction(settings, lambda session: demo.load(session, actor=SYSTEM))
    owner = Api(client, PLATFORM_KEY)
    assert owner.post(SETS, json=ECONOMY).status_code == 201
    text, parquet = _history_files(tmp_path, datetime.now(UTC).date())
    for path in (text, parquet):
        imported = _cli(settings, "import-bookings", str(path), "--tenant", "OE")
        assert imported.exit_code == 0, imported.output
        assert "Imported 2,880 rows" in imported.output
    again = _cli(settings, "import-bookings", str(text), "--tenant", "oe")
    assert again.exit_code == 0, again.output
    assert "imported before" in again.output
    run = _cli(settings, "forecast", "--tenant", "OE")
    assert run.exit_code == 0, run.output
    assert "in 1 markets" in run.output

    async def stored(session: AsyncSession) -> tuple[int, int, int]:
        return (
            await session.scalar(sa.select(sa.func.count()).select_from(ImportedBooking)) or 0,
            await session.scalar(sa.select(sa.func.count()).select_from(RevenueForecast)) or 0,
            await session.scalar(sa.select(sa.func.count()).select_from(RevenueForecastFamily))
            or 0,
        )

    bookings, forecasts, rows = _in_transaction(settings, stored)
    assert bookings == 5760
    # Two demo flights a day on JFK-LHR (OE100, OE118) over the week the demo schedules.
    flights = owner.get(
        "/v1/admin/tenants/OE/flights", params={"origin": "JFK", "destination": "LHR"}
    ).json()
    to_lhr = [f for f in flights["items"] if f["destination"] == "LHR"]
    leaving = [f for f in to_lhr if f["departure_date"] >= datetime.now(UTC).date().isoformat()]
    assert forecasts == len(leaving)
    assert rows == 4 * forecasts

    latest = max(leaving, key=lambda f: f["departure_date"])
    revenue = owner.get(f"/v1/admin/flights/{latest['id']}/revenue").json()
    economy = next(c for c in revenue["cabins"] if c["cabin"] == "ECONOMY")
    forecast = economy["forecast"]
    limits = [f["booking_limit"] for f in forecast["families"]]
    assert limits[0] == forecast["seats_left"] == economy["capacity"]
    assert limits == sorted(limits, reverse=True)
    protection = [f["protection"] for f in forecast["families"]]
    assert protection[0] == 0
    assert protection == sorted(protection)
    assert [f["code"] for f in forecast["families"]] == [f["code"] for f in FAMILIES]
    # The held-out error of a year of history of known demand is small and says so.
    accuracy = forecast["accuracy"]
    assert accuracy["held_out"] == 36
    assert 0 < accuracy["mape"] < 0.3
    assert abs(accuracy["bias"]) < 0.1
    assert len(forecast["inputs_version"]) == 64
    assert forecast["fare_family_set_version"] == 1
    # A week out, what is still to come is what the history's curves hold for the last week:
    # FLEX most (its buyers book late), PROMO least.
    means = [f["demand_mean"] for f in forecast["families"]]
    assert means == sorted(means, reverse=True)
    assert means[3] > 0
    business = next(c for c in revenue["cabins"] if c["cabin"] == "BUSINESS")
    assert business["forecast"] is None
    assert business["why"]

    # A new version of the set changes the inputs' version of the next run.
    set_id = owner.get(SETS).json()["items"][0]["id"]
    owner.put(f"/v1/admin/fare-family-sets/{set_id}", json={**ECONOMY, "booking_periods": [60, 0]})
    ran = owner.post(f"/v1/admin/flights/{latest['id']}/revenue/forecast").json()
    again_economy = next(c for c in ran["cabins"] if c["cabin"] == "ECONOMY")["forecast"]
    assert again_economy["fare_family_set_version"] == 2
    assert again_economy["inputs_version"] != forecast["inputs_version"]


def test_import_bookings_names_each_bad_row_and_column_and_stores_nothing(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    tenant_api(client, "OE")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "flight,departure_date,origin,destination,cabin,fare_family,days_before,count\n"
        "OE100,2026-01-05,JFK,LHR,ECONOMY,FLEX,10,2\n"
        "OE100,2026-13-05,JFK,LHR,ECONOMY,FLEX,10,2\n"
        "OE100,2026-01-05,JFK,LHR,STEERAGE,FLEX,-1,two\n"
    )
    found = _cli(settings, "import-bookings", str(bad), "--tenant", "OE")
    assert found.exit_code == 2
    out = " ".join(found.output.split())
    assert "nothing imported" in out
    for where in (
        "row 2, column departure_date",
        "row 3, column cabin",
        "row 3, column days_before",
        "row 3, column count",
    ):
        assert where in out, out
    missing = tmp_path / "short.csv"
    missing.write_text("flight,departure_date\nOE100,2026-01-05\n")
    short = _cli(settings, "import-bookings", str(missing), "--tenant", "OE")
    assert short.exit_code == 2
    assert "column origin" in " ".join(short.output.split())
    unknown = _cli(settings, "import-bookings", str(bad), "--tenant", "NOPE")
    assert unknown.exit_code == 2
    assert "No tenant" in unknown.output

    async def count(session: AsyncSession) -> int:
        return await session.scalar(sa.select(sa.func.count()).select_from(ImportedBooking)) or 0

    assert _in_transaction(settings, count) == 0


def test_the_server_forecasts_on_its_schedule_when_enabled_and_stops_cleanly(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, forecast_interval_seconds=0.3)
    _in_transaction(settings, lambda session: demo.load(session, actor=SYSTEM))
    text, _ = _history_files(tmp_path, datetime.now(UTC).date())
    assert _cli(settings, "import-bookings", str(text), "--tenant", "OE").exit_code == 0

    engine = create_sync_engine(settings.database_url)

    def count() -> int:  # a plain read: the schedule writes meanwhile
        with engine.connect() as connection:
            return int(connection.scalar(sa.select(sa.func.count()).select_from(RevenueForecast)))

    try:
        assert count() == 0
        with TestClient(create_app(settings)):
            deadline = time.monotonic() + 60
            while count() == 0 and time.monotonic() < deadline:
                time.sleep(0.3)
        assert count() == 16  # JFK-LHR economy: two flights a day for the demo's eight days
    finally:
        engine.dispose()
