"""The template library end to end, on SQLite and PostgreSQL: partner products (a partner and a
pricing unit, checked by product type), package bundles priced by their units (hotel nights over
a round trip's stay or a one-way's default, car days, insurance per passenger), template sets
listed, shown, applied idempotently and all or nothing, and tenants created from sets."""

from __future__ import annotations

import html
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.settings import Settings
from offerengine.starters import library
from offerengine.starters.schemas import TemplateSetFile
from tests.conftest import make_settings
from tests.e2e._admin import log_in
from tests.e2e.test_admin_sessions import add_user
from tests.helpers import (
    FARE,
    Api,
    add_flight,
    create_key,
    departure_day,
    error_locs,
    passengers,
    platform,
    problem,
    tenant_api,
)

OUT = departure_day(10)
BACK = (date.fromisoformat(OUT) + timedelta(days=5)).isoformat()
SETS = "/v1/admin/template-sets"
HOTEL = {
    "product_type": "HOTEL",
    "product_code": "HOTEL-1",
    "name": "Hotel room",
    "base_price": "100.00",
    "partner_code": "HARBOUR",
    "partner_name": "Harbour Hotels",
    "pricing_unit": "per_night",
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


def _tenant(client: TestClient, code: str, **fields: Any) -> dict[str, Any]:
    body = {"code": code, "name": f"Tenant {code}", "kind": "airline", "base_currency": "USD"}
    response = platform(client).post("/v1/admin/tenants", json=body | fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _counts(result: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {
        kind: (result[kind]["created"], result[kind]["updated"], result[kind]["unchanged"])
        for kind in ("products", "bundles", "fare_family_sets")
    }


# --- partner products ----------------------------------------------------------------------------


def test_a_partner_product_names_its_partner_and_unit_and_bad_combinations_name_the_field(
    client: TestClient,
) -> None:
    owner = tenant_api(client, "OE")
    products = "/v1/admin/tenants/OE/products"
    for body, loc in (
        (FARE | {"pricing_unit": "per_night"}, ["body", "pricing_unit"]),
        (FARE | {"partner_code": "X1", "partner_name": "X"}, ["body", "partner_code"]),
        (HOTEL | {"product_type": "CAR"}, ["body", "pricing_unit"]),
        (HOTEL | {"pricing_unit": "per_day"}, ["body", "pricing_unit"]),
        (HOTEL | {"partner_name": None}, ["body", "partner_name"]),
        (HOTEL | {"pricing_unit": "per_week"}, ["body", "pricing_unit"]),
        (HOTEL | {"partner_code": "harbour hotels"}, ["body", "partner_code"]),
    ):
        found = problem(owner.post(products, json=body), 422)
        assert loc in error_locs(found), (body, found)
    assert owner.get(products).json()["items"] == []

    made = owner.post(products, json=HOTEL)
    assert made.status_code == 201, made.text
    assert {k: made.json()[k] for k in ("partner_code", "partner_name", "pricing_unit")} == {
        "partner_code": "HARBOUR",
        "partner_name": "Harbour Hotels",
        "pricing_unit": "per_night",
    }
    insurance = owner.post(
        products,
        json={
            "product_type": "INSURANCE",
            "product_code": "INS-1",
            "name": "Cover",
            "base_price": "10.00",
            "pricing_unit": "per_passenger",
        },
    )
    assert insurance.status_code == 201, insurance.text
    # The run-time catalog shows who supplies a partner product, and nothing new for others.
    runtime = Api(client, create_key(client, "OE", "runtime"))
    shown = runtime.get("/v1/catalog/products/HOTEL-1").json()
    assert (shown["partner"], shown["pricing_unit"]) == (
        {"code": "HARBOUR", "name": "Harbour Hotels"},
        "per_night",
    )
    assert owner.post(products, json=FARE).status_code == 201
    assert "partner" not in runtime.get("/v1/catalog/products/FARE-ECONOMY").json()
    # The export gives the fields back, and importing it again changes nothing.
    exported = owner.get(f"{products}/export", params={"format": "csv"}).text
    again = owner.post(f"{products}/bulk", content=exported, headers={"Content-Type": "text/csv"})
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 3), again.text


# --- the library ---------------------------------------------------------------------------------


def test_every_shipped_set_reads_and_the_api_lists_and_shows_them(client: TestClient) -> None:
    assert {"airline-packages", "airline-branded-fares"} <= set(library.template_sets())
    owner = tenant_api(client, "OE")
    listed = owner.get(SETS).json()["items"]
    packages = next(s for s in listed if s["name"] == "airline-packages")
    assert packages["tenant_kinds"] == ["airline"]
    assert packages["contents"]["bundle_types"] == [
        "BUSINESS_PACKAGE",
        "FAMILY_PACKAGE",
        "VACATION_PACKAGE",
    ]
    assert "Harbour Hotels" in packages["contents"]["partners"]
    full = owner.get(f"{SETS}/airline-branded-fares").json()
    economy = next(s for s in full["fare_family_sets"] if s["cabin"] == "ECONOMY")
    assert [f["code"] for f in economy["families"]] == ["FLEX", "STANDARD", "BASIC"]
    assert economy["families"][1]["attributes"]["checked_bags"] == 1
    problem(owner.get(f"{SETS}/no-such-set"), 404)
    problem(Api(client, None).get(SETS), 401)


def test_applying_a_set_twice_changes_nothing_the_second_time(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    first = owner.post(f"{SETS}/airline-branded-fares/apply")
    assert first.status_code == 200, first.text
    assert _counts(first.json()) == {
        "products": (6, 0, 0),
        "bundles": (3, 0, 0),
        "fare_family_sets": (2, 0, 0),
    }
    second = owner.post(f"{SETS}/airline-branded-fares/apply").json()
    assert _counts(second) == {
        "products": (0, 0, 6),
        "bundles": (0, 0, 3),
        "fare_family_sets": (0, 0, 2),
    }
    # A product the tenant changed since is put back, and only it.
    bag = next(
        p
        for p in owner.get("/v1/admin/tenants/OE/products").json()["items"]
        if p["product_code"] == "BAG-23KG"
    )
    changed = {**bag, "base_price": "40.00"}
    update = {k: changed[k] for k in ("product_type", "product_code", "name", "base_price")}
    assert owner.put(f"/v1/admin/products/{bag['id']}", json=update).status_code == 200
    third = owner.post(f"{SETS}/airline-branded-fares/apply").json()
    assert third["products"] == {"created": 0, "updated": 1, "unchanged": 5}
    audit = owner.get("/v1/admin/tenants/OE/audit", params={"limit": 200}).json()["items"]
    applies = [a for a in audit if a["action"] == "template_set.apply"]
    assert len(applies) == 3
    assert {a["action"] for a in audit} >= {"product.create", "bundle_template.create"}


def test_a_set_applies_wholly_or_not_at_all(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = dict(library.template_sets())
    broken = shipped["airline-branded-fares"].model_dump(mode="json")
    # Families not nested highest first: the fare family import refuses it, after the products
    # and bundles of the set were written in the same transaction.
    broken["name"] = "broken-fares"
    broken["fare_family_sets"][0]["families"].reverse()
    shipped["broken-fares"] = TemplateSetFile.model_validate(broken)
    monkeypatch.setattr(library, "template_sets", lambda: shipped)

    owner = tenant_api(client, "OE")
    found = problem(owner.post(f"{SETS}/broken-fares/apply"), 422)
    assert any("multiplier" in loc for loc in error_locs(found)), found
    assert owner.get("/v1/admin/tenants/OE/products").json()["items"] == []
    assert owner.get("/v1/admin/tenants/OE/bundles").json()["items"] == []
    # Creating a tenant from it creates no tenant either.
    made = platform(client).post(
        "/v1/admin/tenants",
        json={
            "code": "BRK",
            "name": "Broken",
            "kind": "airline",
            "base_currency": "USD",
            "template_sets": ["broken-fares"],
        },
    )
    problem(made, 422)
    problem(platform(client).get("/v1/admin/tenants/BRK"), 404)


def test_a_tenant_is_created_from_sets_in_one_go_and_bad_names_are_422s(
    client: TestClient,
) -> None:
    tenant = _tenant(client, "PKG", template_sets=["airline-branded-fares", "airline-packages"])
    owner = Api(client, create_key(client, "PKG"))
    codes = {p["product_code"] for p in owner.get("/v1/admin/tenants/PKG/products").json()["items"]}
    assert {"FARE-ECONOMY", "HOTEL-RESORT", "CAR-COMPACT", "INS-PACKAGE"} <= codes
    bundles = owner.get("/v1/admin/tenants/PKG/bundles").json()["items"]
    assert {b["bundle_type"] for b in bundles} >= {"VACATION_PACKAGE", "ECONOMY_FLEX"}
    assert tenant["code"] == "PKG"

    plat = platform(client)
    base = {"name": "X", "kind": "airline", "base_currency": "USD"}
    for body, loc in (
        (base | {"code": "U1", "template_sets": ["nope"]}, ["body", "template_sets", 0]),
        (
            base | {"code": "U2", "kind": "marketplace", "template_sets": ["airline-packages"]},
            ["body", "template_sets", 0],
        ),
        (
            base | {"code": "U3", "base_currency": "EUR", "template_sets": ["airline-packages"]},
            ["body", "template_sets", 0],
        ),
        (
            base | {"code": "U4", "template_sets": ["airline-packages", "airline-packages"]},
            ["body", "template_sets", 1],
        ),
    ):
        found = problem(plat.post("/v1/admin/tenants", json=body), 422)
        assert error_locs(found) == [loc], found
        problem(plat.get(f"/v1/admin/tenants/{body['code']}"), 404)

    # Applying to a tenant of another currency or kind names the set.
    euro = tenant_api(client, "EU", base_currency="EUR")
    found = problem(euro.post(f"{SETS}/airline-packages/apply"), 422)
    assert error_locs(found) == [["path", "template_set"]]
    assert "USD" in found["errors"][0]["msg"]
    market = tenant_api(client, "MK", kind="marketplace")
    found = problem(market.post(f"{SETS}/airline-packages/apply"), 422)
    assert "marketplace" in found["errors"][0]["msg"]
    # A viewer cannot apply; a platform key names the tenant; another tenant's is not found.
    viewer = Api(client, create_key(client, "PKG", "viewer"))
    problem(viewer.post(f"{SETS}/airline-packages/apply"), 403)
    found = problem(plat.post(f"{SETS}/airline-packages/apply"), 422)
    assert error_locs(found) == [["query", "tenant"]]
    applied = plat.post(f"{SETS}/airline-packages/apply", params={"tenant": "PKG"})
    assert _counts(applied.json())["products"] == (0, 0, 6)
    problem(owner.post(f"{SETS}/airline-packages/apply", params={"tenant": "EU"}), 404)


# --- packages in shopping ------------------------------------------------------------------------


@pytest.fixture
def packages(client: TestClient) -> tuple[Api, Api]:
    """A tenant made from the packages set, with economy and business fares, a flight out and
    one back five days later; every bundle type offered."""
    _tenant(client, "OE", template_sets=["airline-packages"])
    owner = Api(client, create_key(client, "OE"))
    business = FARE | {
        "product_code": "FARE-BUSINESS",
        "category": "BUSINESS",
        "base_price": "1000.00",
    }
    for fare in (FARE, business):
        assert owner.post("/v1/admin/tenants/OE/products", json=fare).status_code == 201
    add_flight(owner, "OE", day=OUT, number="100")
    add_flight(
        owner,
        "OE",
        day=BACK,
        number="101",
        origin="LHR",
        destination="JFK",
        departure_local=f"{BACK}T10:00:00",
        arrival_local=f"{BACK}T13:00:00",
    )
    return owner, Api(client, create_key(client, "OE", "runtime"))


def _package(result: dict[str, Any], offer_type: str) -> dict[str, Any]:
    return next(o for o in result["offers"] if o["offer_type"] == offer_type)


def _partner_items(offer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["type"]: i for i in offer["items"] if i.get("pricing_unit")}


def test_a_one_way_package_prices_the_bundles_nights_days_and_passengers(
    packages: tuple[Api, Api],
) -> None:
    _owner, runtime = packages
    result = runtime.post(
        "/v1/offers/search",
        json={
            "origin": "JFK",
            "destination": "LHR",
            "date": OUT,
            "passengers": {"adults": 2, "children": 1, "infants": 1},
        },
    ).json()
    assert {o["offer_type"] for o in result["offers"]} >= {"FLIGHT_ONLY", "VACATION_PACKAGE"}
    vacation = _package(result, "VACATION_PACKAGE")
    items = _partner_items(vacation)
    hotel, car, cover = items["HOTEL"], items["CAR"], items["INSURANCE"]
    # 159.00 a night less the package's 10%: 143.10 × the line's 7 nights × 1 room.
    assert hotel["partner"] == {"code": "SUNCOAST", "name": "Suncoast Resorts"}
    assert (hotel["pricing_unit"], hotel["units"]["count"], hotel["unit_price"]) == (
        "per_night",
        7,
        "143.10",
    )
    assert hotel["price"]["total"] == "1001.70"
    assert hotel["passengers"] == []  # a room is the party's, not a passenger's
    assert (car["pricing_unit"], car["units"]["count"], car["price"]["total"]) == (
        "per_day",
        7,
        "245.70",
    )
    # Insurance: every passenger, the infant too: 4 × 17.10.
    assert (cover["units"]["count"], cover["price"]["total"]) == (4, "68.40")
    assert {r["type"]: r["count"] for r in cover["passengers"]} == {
        "ADULT": 2,
        "CHILD": 1,
        "INFANT": 1,
    }
    total = sum(Decimal(i["price"]["total"]) for i in vacation["items"])
    taxes = sum(Decimal(t["amount"]) for t in vacation["price"]["taxes"])
    assert Decimal(vacation["price"]["total"]) == total + taxes
    # The business package: 2 nights of the city hotel, per its line.
    business = _package(result, "BUSINESS_PACKAGE")
    assert _partner_items(business)["HOTEL"]["units"]["count"] == 2


def test_a_round_trip_package_stays_the_nights_between_its_slices_once(
    packages: tuple[Api, Api],
) -> None:
    _owner, runtime = packages
    body = {
        "slices": [
            {"origin": "JFK", "destination": "LHR", "date": OUT},
            {"origin": "LHR", "destination": "JFK", "date": BACK},
        ],
        "passengers": {"adults": 2},
    }
    found = runtime.post("/v1/offers/search", json=body)
    assert found.status_code == 200, found.text
    vacation = _package(found.json(), "VACATION_PACKAGE")
    hotels = [i for i in vacation["items"] if i["type"] == "HOTEL"]
    assert [h["slice"] for h in hotels] == [1]
    assert hotels[0]["units"]["count"] == 5  # OUT to BACK
    assert f"{OUT} to {BACK}" in hotels[0]["units"]["explanation"]
    assert hotels[0]["price"]["total"] == str(Decimal("143.10") * 5)
    assert len([i for i in vacation["items"] if i["type"] == "INSURANCE"]) == 1

    # Priced again, the package prices the same stay.
    again = runtime.post(f"/v1/offers/{vacation['offer_id']}/price")
    assert again.status_code == 200, again.text
    assert again.json()["price_changed"] is False

    # An order holds the seats of both slices; partner items hold no stock and are ordered.
    order = runtime.post(
        "/v1/orders",
        json={"offer_id": vacation["offer_id"], "passengers": passengers(2)},
        headers={"Idempotency-Key": "pkg-1"},
    )
    assert order.status_code == 201, order.text
    held = order.json()
    assert held["status"] == "HELD"
    assert held["total"] == vacation["price"]["total"]
    assert {h["resource_type"] for h in held["holds"]} == {"SEAT"}


# --- the admin UI ----------------------------------------------------------------------------------


def _person(
    settings: Settings, client: TestClient, email: str, role: str, tenant: str | None
) -> str:
    """A logged-in person of ``role``; returns the session's CSRF token."""
    add_user(settings, email, role, tenant)
    return log_in(client, email)


def test_the_templates_page_lists_the_sets_and_applies_one(
    client: TestClient, settings: Settings
) -> None:
    _tenant(client, "OE")
    _tenant(client, "EU", base_currency="EUR")
    csrf = _person(settings, client, "ed@oe.example", "editor", "OE")
    page = client.get("/admin/templates")
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert "<h1>Templates</h1>" in text
    for shown in ("Suncoast Resorts", "per night", "Economy Flex"):
        assert shown in text
    apply = "/v1/admin/template-sets/airline-packages/apply?tenant=OE"
    assert f'data-api="{apply}"' in text
    # What the button sends: the API with the session cookie and its CSRF token.
    problem(client.post(apply), 403)
    applied = client.post(apply, headers={"X-CSRF-Token": csrf})
    assert applied.status_code == 200, applied.text
    assert applied.json()["summary"].startswith("products: 6 created")
    # A platform person's tenant page offers the sets when creating a tenant.
    client.cookies.clear()
    _person(settings, client, "root@example.com", "platform", None)
    tenants_page = html.unescape(client.get("/admin/tenants").text)
    assert 'name="template_sets" value="airline-packages"' in tenants_page
    assert "<legend>Start from template sets</legend>" in tenants_page


# --- the command line ----------------------------------------------------------------------------


def test_the_command_line_lists_and_applies_sets(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from offerengine.cli import app as cli

    runner = CliRunner()
    env = {
        "OFFERENGINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "OFFERENGINE_VAR_DIR": str(tmp_path / "var"),
    }
    listed = runner.invoke(cli, ["templates", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "airline-packages: Family, business and vacation packages" in listed.output
    assert runner.invoke(cli, ["migrate"], env=env).exit_code == 0
    assert runner.invoke(cli, ["demo"], env=env).exit_code == 0
    # The demo airline is made from the packages set already: applying it again changes nothing.
    again = runner.invoke(
        cli, ["templates", "apply", "airline-packages", "--tenant", "OE"], env=env
    )
    assert again.exit_code == 0, again.output
    assert "products: 0 created, 0 updated, 6 unchanged" in again.output
    refused = runner.invoke(
        cli, ["templates", "apply", "airline-packages", "--tenant", "MKT"], env=env
    )
    assert refused.exit_code == 2
    assert "not marketplace" in refused.output
    unknown = runner.invoke(cli, ["templates", "apply", "nope", "--tenant", "OE"], env=env)
    assert unknown.exit_code == 2
    assert "No template set 'nope'" in unknown.output
