"""Branded fare families in shopping, end to end over HTTP on SQLite and PostgreSQL: each offer's
grid of its cabin's families (attributes, the offer's total in each, seats), a search that sells
a family (priced in it, named on its FLIGHT item, kept by re-pricing and orders), the snapshot
following a set's changes, unknown families refused naming the field, journeys' grids per slice,
a family closed by its booking limit, NDC's price classes and the shop playground."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.settings import Settings
from offerengine.snapshots.build import build
from tests.conftest import make_settings
from tests.e2e.test_admin_sessions import add_user, log_in
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
    {
        "code": "FLEX",
        "name": "Flex",
        "multiplier": "1.5",
        "attributes": {
            "checked_bags": 2,
            "seat_selection": "any",
            "changes": "free",
            "refunds": "full",
            "priority_boarding": True,
            "lounge": True,
            "other": {"Wi-Fi": "Streaming"},
        },
    },
    {
        "code": "STANDARD",
        "name": "Standard",
        "multiplier": "1",
        "attributes": {
            "checked_bags": 1,
            "seat_selection": "standard",
            "changes": "fee",
            "change_fee": "75",
        },
    },
    {
        "code": "BASIC",
        "name": "Basic",
        "multiplier": "0.8",
        "attributes": {"carry_on": False, "seat_selection": "none"},
    },
]
# 10 % of each fare on departure from the US, and USD 20 a passenger.
FARE_SETTINGS = {
    "taxes": [
        {
            "code": "US",
            "name": "US transport tax",
            "kind": "PERCENTAGE",
            "amount": "10",
            "country": "US",
        },
        {
            "code": "XF",
            "name": "Facility charge",
            "kind": "FIXED",
            "amount": "20",
            "currency": "USD",
            "country": "US",
        },
    ]
}
ONLY_FLIGHTS = {
    "max_offers": 20,
    "offer_types": [{"type": "FLIGHT_ONLY", "priority": 1, "always_include": True}],
}
PARTY = {"adults": 2, "children": 1}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def airline(client: TestClient) -> tuple[Api, Api]:
    """An economy fare of USD 200, US taxes, flights only, a JFK→LHR flight."""
    owner = tenant_api(client, "OE")
    assert owner.post("/v1/admin/tenants/OE/products", json=FARE).status_code == 201
    assert owner.put("/v1/admin/tenants/OE/fare-settings", json=FARE_SETTINGS).status_code == 200
    assert owner.put("/v1/admin/tenants/OE/offer-rules", json=ONLY_FLIGHTS).status_code == 200
    add_flight(owner, "OE")
    return owner, Api(client, create_key(client, "OE", "runtime"))


def _families(owner: Api, **more: Any) -> dict[str, Any]:
    made = owner.post(SETS, json={"cabin": "ECONOMY", "families": FAMILIES} | more)
    assert made.status_code == 201, made.text
    return dict(made.json())


def _flight_item(offer: dict[str, Any], item_id: str = "flight") -> dict[str, Any]:
    return next(i for i in offer["items"] if i["item_id"] == item_id)


def _grid(offer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["code"]: f for f in offer["fare_families"]}


def test_offers_show_each_family_of_the_cabin_and_a_search_sells_the_one_it_names(
    airline: tuple[Api, Api],
) -> None:
    owner, runtime = airline
    # No set: offers are as they always were.
    plain = search(runtime, passengers=PARTY)["offers"][0]
    assert "fare_families" not in plain
    assert "fare_family" not in _flight_item(plain)
    assert plain["price"]["total"] == "665.00"

    _families(owner)
    offer = search(runtime, passengers=PARTY)["offers"][0]
    # The default is the family at the cabin fare: the same price as before, now named.
    assert offer["price"]["total"] == "665.00"
    assert _flight_item(offer)["fare_family"] == "STANDARD"
    grid = offer["fare_families"]
    assert [f["code"] for f in grid] == ["BASIC", "STANDARD", "FLEX"]  # lowest first
    by_code = _grid(offer)
    # Per family: 2 adults and a child (75 %) at multiplier × 200, 10 % tax, USD 20 a head.
    #   BASIC 160+160+120 = 440 + 44 + 60; STANDARD 550 + 55 + 60; FLEX 825 + 82.50 + 60.
    assert {c: f["total"] for c, f in by_code.items()} == {
        "BASIC": "544.00",
        "STANDARD": "665.00",
        "FLEX": "967.50",
    }
    assert {c: f["difference"] for c, f in by_code.items()} == {
        "BASIC": "-121.00",
        "STANDARD": "0.00",
        "FLEX": "302.50",
    }
    assert [f["selected"] for f in grid] == [False, True, False]
    assert all(f["available"] and f["remaining"] == 200 for f in grid)
    standard = by_code["STANDARD"]
    assert standard["name"] == "Standard"
    assert standard["fee_currency"] == "USD"
    assert standard["attributes"] == {
        "checked_bags": 1,
        "carry_on": True,
        "seat_selection": "standard",
        "changes": "fee",
        "change_fee": "75.00",
        "refunds": "not_allowed",
        "refund_fee": None,
        "priority_boarding": False,
        "lounge": False,
        "other": {},
    }
    assert by_code["FLEX"]["attributes"]["other"] == {"Wi-Fi": "Streaming"}

    # Sold in FLEX: the grid's FLEX total, the family's fares, taxes on them.
    flex = search(runtime, passengers=PARTY, fare_family="FLEX")["offers"][0]
    assert flex["price"]["total"] == "967.50"
    item = _flight_item(flex)
    assert item["fare_family"] == "FLEX"
    assert [(p["type"], p["unit_price"]) for p in item["passengers"]] == [
        ("ADULT", "300.00"),
        ("CHILD", "225.00"),
    ]
    assert item["pricing"]["fare_family"] == {"code": "FLEX", "multiplier": "1.5", "fare": "300.00"}
    assert flex["price"]["tax_total"] == "142.50"
    assert {c: f["difference"] for c, f in _grid(flex).items()} == {
        "BASIC": "-423.50",
        "STANDARD": "-302.50",
        "FLEX": "0.00",
    }
    assert [f["code"] for f in flex["fare_families"] if f["selected"]] == ["FLEX"]

    # Re-pricing and the order keep the family.
    again = runtime.post(f"/v1/offers/{flex['offer_id']}/price")
    assert again.status_code == 200, again.text
    assert again.json()["price_changed"] is False
    assert _flight_item(again.json()["offer"])["fare_family"] == "FLEX"
    made = runtime.post(
        "/v1/orders",
        json={"offer_id": flex["offer_id"], "passengers": passengers(2, 1)},
        headers={"Idempotency-Key": "flex-1"},
    )
    assert made.status_code == 201, made.text
    order = made.json()
    assert order["total"] == "967.50"
    assert next(i for i in order["items"] if i["type"] == "FLIGHT")["fare_family"] == "FLEX"


def test_the_grid_follows_changes_to_the_set_and_a_route_set_wins(
    airline: tuple[Api, Api],
) -> None:
    owner, runtime = airline
    made = _families(owner)
    before = _grid(search(runtime)["offers"][0])
    assert before["FLEX"]["total"] == "350.00"  # 300 + 30 + 20

    changed = [dict(f) for f in FAMILIES]
    changed[0] = {**changed[0], "multiplier": "1.6", "name": "Flex Plus"}
    updated = owner.put(
        f"/v1/admin/fare-family-sets/{made['id']}",
        json={"cabin": "ECONOMY", "families": changed, "version": made["version"]},
    )
    assert updated.status_code == 200, updated.text
    after = _grid(search(runtime)["offers"][0])
    assert (after["FLEX"]["name"], after["FLEX"]["total"]) == ("Flex Plus", "372.00")  # 320+32+20

    # A set of the route's own replaces the all-routes one on it.
    _families(
        owner,
        route="JFK-LHR",
        families=[
            {"code": "PLUS", "name": "Plus", "multiplier": "1.2"},
            {"code": "LITE", "name": "Lite", "multiplier": "1"},
        ],
    )
    route = search(runtime)["offers"][0]
    assert [f["code"] for f in route["fare_families"]] == ["LITE", "PLUS"]
    assert _flight_item(route)["fare_family"] == "LITE"
    # An inactive set sells nothing: back to the all-routes set.
    listed = owner.get(SETS).json()
    own = next(s for s in (listed.get("items") or listed) if s["route"] == "JFK-LHR")
    off = owner.put(
        f"/v1/admin/fare-family-sets/{own['id']}",
        json={
            "cabin": "ECONOMY",
            "route": "JFK-LHR",
            "families": own["families"],
            "is_active": False,
            "version": own["version"],
        },
    )
    assert off.status_code == 200, off.text
    assert [f["code"] for f in search(runtime)["offers"][0]["fare_families"]][-1] == "FLEX"


def test_an_unknown_fare_family_is_refused_naming_the_field(airline: tuple[Api, Api]) -> None:
    owner, runtime = airline
    body = {"origin": "JFK", "destination": "LHR", "date": departure_day()}
    none = runtime.post("/v1/offers/search", json=body | {"fare_family": "FLEX"})
    assert error_locs(problem(none, 422)) == [["body", "fare_family"]]
    assert "no fare family set on JFK-LHR" in none.json()["errors"][0]["msg"]

    _families(owner)
    unknown = runtime.post("/v1/offers/search", json=body | {"fare_family": "FIRSTCLASS"})
    found = problem(unknown, 422)
    assert error_locs(found) == [["body", "fare_family"]]
    assert "one of FLEX, STANDARD, BASIC" in found["errors"][0]["msg"]
    malformed = runtime.post("/v1/offers/search", json=body | {"fare_family": "flex plus"})
    assert error_locs(problem(malformed, 422)) == [["body", "fare_family"]]
    # Another cabin has no families.
    business = runtime.post(
        "/v1/offers/search", json=body | {"fare_family": "FLEX", "cabin": "BUSINESS"}
    )
    assert error_locs(problem(business, 422)) == [["body", "fare_family"]]
    journey = runtime.post(
        "/v1/offers/search",
        json={
            "slices": [
                {"origin": "JFK", "destination": "LHR", "date": departure_day()},
                {
                    "origin": "LHR",
                    "destination": "JFK",
                    "date": departure_day(17),
                    "fare_family": "NOPE",
                },
            ]
        },
    )
    assert error_locs(problem(journey, 422)) == [["body", "slices", 1, "fare_family"]]


# --- journeys ---------------------------------------------------------------------------------------


def test_a_journey_shows_a_grid_per_slice_and_sells_a_family_per_slice(
    airline: tuple[Api, Api],
) -> None:
    owner, runtime = airline
    _families(owner)
    out = departure_day(10)
    back = (date.fromisoformat(out) + timedelta(days=7)).isoformat()
    add_flight(
        owner,
        "OE",
        day=back,
        number="101",
        origin="LHR",
        destination="JFK",
        departure_local=f"{back}T08:30:00",
        arrival_local=f"{back}T11:30:00",
    )
    body = {
        "slices": [
            {"origin": "JFK", "destination": "LHR", "date": out},
            {"origin": "LHR", "destination": "JFK", "date": back, "fare_family": "FLEX"},
        ],
        "passengers": {"adults": 1},
    }
    response = runtime.post("/v1/offers/search", json=body)
    assert response.status_code == 200, response.text
    (offer,) = response.json()["offers"]
    assert _flight_item(offer, "s1-1-flight")["fare_family"] == "STANDARD"
    assert _flight_item(offer, "s2-1-flight")["fare_family"] == "FLEX"
    # Out: 200 + 20 + 20 US taxes; back from London: 300 and no US tax.
    assert offer["price"]["total"] == "540.00"
    grids = {g["slice"]: {f["code"]: f for f in g["families"]} for g in offer["fare_families"]}
    assert set(grids) == {1, 2}
    assert [c for c, f in grids[1].items() if f["selected"]] == ["STANDARD"]
    assert [c for c, f in grids[2].items() if f["selected"]] == ["FLEX"]
    assert grids[1]["FLEX"]["total"] == "650.00"  # out in FLEX too: +100 fare, +10 tax
    assert grids[2]["BASIC"]["total"] == "400.00"  # back in BASIC: 160 instead of 300
    assert grids[2]["FLEX"]["difference"] == "0.00"

    # The whole journey in one family; re-pricing keeps it.
    every = runtime.post("/v1/offers/search", json=body | {"fare_family": "BASIC"})
    assert every.status_code == 200, every.text
    (basic,) = every.json()["offers"]
    # Slice 2 names its own (FLEX); slice 1 takes the search's.
    assert _flight_item(basic, "s1-1-flight")["fare_family"] == "BASIC"
    assert _flight_item(basic, "s2-1-flight")["fare_family"] == "FLEX"
    again = runtime.post(f"/v1/offers/{basic['offer_id']}/price")
    assert again.status_code == 200, again.text
    assert again.json()["price_changed"] is False
    assert again.json()["offer"]["fare_families"] == basic["fare_families"]


def test_a_change_of_a_set_patches_the_held_snapshots_families_alone(
    client: TestClient, airline: tuple[Api, Api]
) -> None:
    owner, runtime = airline
    search(runtime)  # the worker holds the tenant's snapshot from here on
    context = client.app.state.context  # type: ignore[attr-defined]
    tenant_id = uuid.UUID(owner.get("/v1/admin/tenants/OE").json()["id"])
    held = context.snapshots.peek(tenant_id)
    assert held is not None
    assert not held.shopping.fare_families
    _families(owner)
    search(runtime)  # read-your-writes: served at the new version at once
    after = context.snapshots.peek(tenant_id)
    assert after.version > held.version
    assert after.shopping.flights is held.shopping.flights  # patched, not rebuilt
    assert after.shopping.fare_families.codes == {
        "ECONOMY": frozenset({"FLEX", "STANDARD", "BASIC"})
    }

    async def whole() -> Any:
        async with context.session_factory() as session:
            return await build(session, tenant_id)

    built = client.portal.call(whole)  # type: ignore[union-attr]
    assert after.shopping.fare_families == built.shopping.fare_families


# --- NDC ------------------------------------------------------------------------------------------


def test_ndc_air_shopping_names_each_offers_fare_family_as_a_price_class(
    airline: tuple[Api, Api],
) -> None:
    owner, runtime = airline
    _families(owner)
    response = runtime.post(
        "/v1/ndc/air-shopping",
        json={
            "IATA_AirShoppingRQ": {
                "Request": {
                    "FlightRequest": {
                        "FlightRequestOriginDestinationsCriteria": {
                            "OriginDestCriteria": [
                                {
                                    "OriginDepCriteria": {
                                        "IATA_LocationCode": "JFK",
                                        "Date": departure_day(),
                                    },
                                    "DestArrivalCriteria": {"IATA_LocationCode": "LHR"},
                                }
                            ]
                        }
                    },
                    "PaxList": {"Pax": [{"PaxID": "ADULT_1", "PTC": "ADT"}]},
                }
            }
        },
    )
    assert response.status_code == 200, response.text
    rs = response.json()["IATA_AirShoppingRS"]["Response"]
    (price_class,) = rs["DataLists"]["PriceClassList"]["PriceClass"]
    assert (price_class["PriceClassID"], price_class["Name"], price_class["Code"]) == (
        "STANDARD",
        "Standard",
        "STANDARD",
    )
    lines = [d["DescText"] for d in price_class["Desc"]]
    assert "1 checked bag" in lines
    assert "changes: fee 75.00 USD" in lines
    offer = rs["OffersGroup"]["CarrierOffers"][0]["Offer"][0]
    (component,) = offer["OfferItem"][0]["FareDetail"][0]["FareComponent"]
    assert component["PriceClassRefID"] == "STANDARD"
    assert component["PaxSegmentRefID"] == ["SEG1"]


# --- the shop playground ----------------------------------------------------------------------------


def test_the_shop_playground_offers_the_tenants_families_to_shop(
    settings: Settings, client: TestClient, airline: tuple[Api, Api]
) -> None:
    owner, _ = airline
    add_user(settings, "shop@oe.example", "owner", "OE")
    assert log_in(client, "shop@oe.example").status_code == 303
    empty = client.get("/admin/shop")
    assert empty.status_code == 200
    assert 'name="fare_family"' in empty.text
    assert "No fare family set yet" in empty.text
    _families(owner)
    page = client.get("/admin/shop").text
    field = re.search(r'<select id="s-family" name="fare_family".*?</select>', page, re.S)
    assert field, page
    assert re.findall(r'<option value="([A-Z]*)">', field.group(0)) == [
        "",
        "FLEX",
        "STANDARD",
        "BASIC",
    ]
    assert "Flex (FLEX) · economy every route" in field.group(0)
    assert '<label for="s-family">Fare family</label>' in page
    # The grid is drawn by the page's own script (no inline script: the CSP forbids them).
    assert "<script>" not in page
    script = client.get("/admin/static/admin.js").text
    assert "function fareFamilyTable(" in script


# --- booking limits -------------------------------------------------------------------------------


def test_a_family_closed_by_its_booking_limit_drops_its_offers_while_dearer_ones_sell(
    sqlite_url: str, tmp_path: Path
) -> None:
    from offerengine.app import create_app
    from tests.e2e.test_revenue_limits import DAYS_OUT, _forecast, _with_history

    settings = make_settings(sqlite_url, tmp_path, availability_cache_seconds=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner = tenant_api(client, "OE")
        _with_history(owner, sqlite_url, tmp_path)  # FLEX 2.1, STANDARD 1.3, SAVER 1, PROMO 0.55
        day = departure_day(DAYS_OUT)
        flight = add_flight(owner, "OE", day=day, cabins={"ECONOMY": 20})
        runtime = Api(client, create_key(client, "OE", "runtime"))
        limits = {f["code"]: f["booking_limit"] for f in _forecast(owner, flight)["families"]}
        party = limits["PROMO"] + 1
        # Else the test proves nothing: a party PROMO cannot seat and SAVER can.
        assert party <= 9, limits
        assert limits["SAVER"] >= party, limits

        # The default (SAVER) sells to the party; PROMO cannot, and its column says so.
        offer = search(runtime, day=day, passengers={"adults": party})["offers"][0]
        grid = _grid(offer)
        assert _flight_item(offer)["fare_family"] == "SAVER"
        assert (grid["PROMO"]["available"], grid["PROMO"]["remaining"]) == (False, limits["PROMO"])
        assert grid["SAVER"]["available"]
        assert grid["SAVER"]["remaining"] == limits["SAVER"]
        assert grid["FLEX"]["remaining"] == limits["FLEX"]

        # Asked for, the closed family drops the offer, saying why; the dearer FLEX sells.
        closed = search(runtime, day=day, passengers={"adults": party}, fare_family="PROMO")
        assert closed["offers"] == []
        assert any("fare family PROMO closed by its booking limit" in w for w in closed["warnings"])
        flex = search(runtime, day=day, passengers={"adults": party}, fare_family="FLEX")
        assert _flight_item(flex["offers"][0])["fare_family"] == "FLEX"
        # An order of FLEX holds under FLEX's limit (orders read the item's family).
        made = runtime.post(
            "/v1/orders",
            json={"offer_id": flex["offers"][0]["offer_id"], "passengers": passengers(party)},
            headers={"Idempotency-Key": "flex-party"},
        )
        assert made.status_code == 201, made.text
