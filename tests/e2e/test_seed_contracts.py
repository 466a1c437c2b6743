"""The seeds' contracts, for users porting from them (docs/seeds.md): seed 001's airline body and
product prices, its business rule shape on our own routes and at one generic place for every
kind of rule, seed 002's /api/v1 paths as aliases of ours, seed 003's eventType; on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from tests.conftest import make_settings
from tests.helpers import Api, create_key, error_locs, platform, problem, tenant_api

BASE = "/v1/admin/tenants/AA"
# Seed 001's examples, as written.
OFFER_MIX = {
    "rule_name": "Standard Offer Mix",
    "rule_type": "OFFER",
    "rule_config": {
        "max_offers": 5,
        "offer_types": [
            {"type": "FLIGHT_ONLY", "priority": 1, "always_include": True},
            {"type": "COMFORT", "priority": 2, "always_include": True},
            {"type": "PREMIUM", "priority": 3, "always_include": False},
        ],
        "ranking_weights": {"conversion_probability": 0.6, "profit_margin": 0.4},
        "expiry_minutes": 15,
    },
}
CONTINUOUS = {
    "rule_type": "PRICING",
    "rule_name": "Continuous Pricing - Economy",
    "rule_config": {
        "conditions": {"product_type": "FLIGHT", "cabin_class": "ECONOMY"},
        "adjustments": {
            "type": "MULTIPLIER",
            "formula": "1.0 + (utilization^2 * 2.0)",
            "min_multiplier": 0.5,
            "max_multiplier": 3.0,
        },
    },
    "priority": 10,
    "valid_from": "2024-06-01T00:00:00Z",
    "valid_until": "2024-12-31T23:59:59Z",
}
EXTRA_LEG = {
    "product_type": "SEAT",
    "product_code": "SEAT-EXTRA-LEG",
    "name": "Extra Legroom Seat",
    "description": "Seats with 34-36 inches of legroom",
    "base_price_nuc": 3000,
    "metadata": {"legroom_inches": 35, "recline_inches": 5, "available_rows": [12, 13, 14, 15]},
}
COMFORT = {
    "bundle_name": "Comfort Bundle",
    "bundle_type": "COMFORT",
    "product_types": [
        {"type": "FLIGHT", "required": True},
        {"type": "SEAT", "category": "EXTRA_LEGROOM", "required": False},
    ],
    "discount_percentage": 10.0,
    "priority": 2,
}
SEAT_HOLDS = {"resource_type": "SEAT", "hold_duration_seconds": 900, "overbooking_percentage": 5.0}
EXPRESS = {  # seed 002's "pricing rule", our fee rule
    "name": "Istanbul Express Delivery",
    "type": "EXPRESS_FEE",
    "configuration": {"base_fee": 15.00, "multiplier": 1.5, "max_fee": 50.00},
    "region": "Istanbul",
    "effective_from": "2025-01-01T00:00:00Z",
}
RATE = {"commission_type": "PERCENTAGE", "rate": "12.5", "category": "electronics"}


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(database_url, tmp_path))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def owner(client: TestClient) -> Api:
    return tenant_api(client, "AA", country="US")


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


@pytest.fixture
def every_kind(owner: Api) -> dict[str, str]:
    """One rule of every kind, each made at its own route; their ids by rule type."""
    made = {
        "PRICING": _ok(owner.post(f"{BASE}/pricing-rules", json=CONTINUOUS), 201),
        "BUNDLING": _ok(owner.post(f"{BASE}/bundles", json=COMFORT), 201),
        "INVENTORY": _ok(owner.post(f"{BASE}/inventory-rules", json=SEAT_HOLDS), 201),
        "OFFER": _ok(owner.put(f"{BASE}/offer-rules", json=OFFER_MIX)),
        "FEE": _ok(owner.post(f"{BASE}/fee-rules", json=EXPRESS), 201),
        "COMMISSION": _ok(owner.post(f"{BASE}/commission-rates", json=RATE), 201),
    }
    return {rule_type: str(found["id"]) for rule_type, found in made.items()}


# --- seed 001: the airline, its products ----------------------------------------------------------


def test_an_airline_with_its_country_is_stored_and_read_back(client: TestClient) -> None:
    admin = platform(client)
    seed = {"code": "AA", "name": "American Airlines", "country": "US"}
    made = _ok(
        admin.post("/v1/admin/tenants", json=seed | {"kind": "airline", "base_currency": "USD"}),
        201,
    )
    assert made["country"] == "US"
    assert _ok(admin.get("/v1/admin/tenants/AA"))["country"] == "US"
    assert [t["country"] for t in admin.get("/v1/admin/tenants").json()] == ["US"]
    changed = {k: made[k] for k in ("name", "kind", "base_currency")} | {"country": "GB"}
    assert _ok(admin.put("/v1/admin/tenants/AA", json=changed))["country"] == "GB"
    # A tenant without one has none.
    assert _ok(admin.post("/v1/admin/tenants", json={**changed, "code": "MK"}), 201)["country"]
    other = {"code": "MP", "name": "Market", "kind": "marketplace", "base_currency": "TRY"}
    assert _ok(admin.post("/v1/admin/tenants", json=other), 201)["country"] is None


def test_the_seeds_airline_body_as_written_is_told_what_to_add(client: TestClient) -> None:
    admin = platform(client)
    seed = {"code": "AA", "name": "American Airlines", "country": "US"}
    body = problem(admin.post("/v1/admin/tenants", json=seed), 422)
    messages = {tuple(e["loc"]): e["msg"] for e in body["errors"]}
    assert set(messages) == {("body", "kind"), ("body", "base_currency")}
    assert '"airline"' in messages[("body", "kind")]
    assert "ISO 4217" in messages[("body", "base_currency")]
    # Adding what it says is enough.
    _ok(
        admin.post("/v1/admin/tenants", json=seed | {"kind": "airline", "base_currency": "USD"}),
        201,
    )


@pytest.mark.parametrize("country", ["XX", "us", "USA", "840", ""])
def test_a_country_that_is_not_iso_3166_alpha_2_is_refused_by_name(
    client: TestClient, country: str
) -> None:
    body = {"code": "AA", "name": "A", "kind": "airline", "base_currency": "USD"}
    found = problem(
        platform(client).post("/v1/admin/tenants", json=body | {"country": country}), 422
    )
    assert error_locs(found) == [["body", "country"]]
    assert problem(platform(client).get("/v1/admin/tenants/AA"), 404)


def test_a_product_priced_in_nuc_minor_units_reads_back_in_them(owner: Api) -> None:
    made = _ok(owner.post(f"{BASE}/products", json=EXTRA_LEG), 201)
    assert (made["base_price_nuc"], made["base_price"], made["currency"]) == (3000, "30.00", "NUC")
    assert _ok(owner.get(f"/v1/admin/products/{made['id']}"))["base_price_nuc"] == 3000
    listed = _ok(owner.get(f"{BASE}/products"))["items"]
    assert [p["base_price_nuc"] for p in listed] == [3000]
    # Sent back as read (without the bookkeeping), it changes nothing … or the price.
    again = {k: made[k] for k in ("product_type", "product_code", "name", "metadata")}
    updated = _ok(
        owner.put(f"/v1/admin/products/{made['id']}", json=again | {"base_price_nuc": 3250})
    )
    assert (updated["base_price_nuc"], updated["base_price"]) == (3250, "32.50")
    # A product priced in a currency has no NUC price.
    dollars = EXTRA_LEG | {"product_code": "SEAT-USD", "base_price_nuc": None}
    usd = _ok(owner.post(f"{BASE}/products", json=dollars | {"base_price": "30.00"}), 201)
    assert (usd["base_price_nuc"], usd["currency"]) == (None, "USD")


# --- seed 001: its rule shape on our own routes -------------------------------------------------


def test_the_seeds_offer_rule_shape_is_the_offer_rules(owner: Api) -> None:
    saved = _ok(owner.put(f"{BASE}/offer-rules", json=OFFER_MIX))
    assert saved["rule_name"] == "Standard Offer Mix"
    assert saved["max_offers"] == 5
    assert [t["type"] for t in saved["offer_types"]] == ["FLIGHT_ONLY", "COMFORT", "PREMIUM"]
    assert saved["version"] == 1
    assert _ok(owner.get(f"{BASE}/offer-rules"))["expiry_minutes"] == 15
    # The same in our shape is the same document: no new version.
    ours = {"rule_name": "Standard Offer Mix", **OFFER_MIX["rule_config"]}
    assert _ok(owner.put(f"{BASE}/offer-rules", json=ours))["version"] == 1


@pytest.mark.parametrize(
    ("change", "loc", "words"),
    [
        ({"rule_type": "PRICING"}, ["body", "rule_type"], "'OFFER'"),
        ({"priority": 3}, ["body", "priority"], "leave it out"),
        ({"rule_config": {"max_offers": 0}}, ["body", "rule_config", "max_offers"], "1"),
        ({"rule_config": []}, ["body", "rule_config"], "object"),
        ({"rule_nam": "x"}, ["body", "rule_nam"], "rule_name, rule_config"),
    ],
)
def test_a_wrong_offer_rule_in_the_seeds_shape_says_where_and_what_to_send(
    owner: Api, change: dict[str, Any], loc: list[Any], words: str
) -> None:
    body = problem(owner.put(f"{BASE}/offer-rules", json=OFFER_MIX | change), 422)
    assert error_locs(body) == [loc]
    assert words in body["errors"][0]["msg"]
    assert _ok(owner.get(f"{BASE}/offer-rules"))["version"] == 0  # nothing saved


def test_the_seeds_pricing_rule_shape_makes_a_pricing_rule(owner: Api) -> None:
    made = _ok(owner.post(f"{BASE}/pricing-rules", json=CONTINUOUS), 201)
    assert made["rule_name"] == "Continuous Pricing - Economy"
    assert made["rule_type"] == "CUSTOM"  # the seed's business rule says PRICING only
    assert made["adjustments"]["formula"] == "1.0 + (utilization^2 * 2.0)"
    assert (made["priority"], made["valid_until"]) == (10, "2024-12-31T23:59:59Z")
    typed = CONTINUOUS | {
        "rule_name": "Demand",
        "rule_config": CONTINUOUS["rule_config"] | {"rule_type": "DEMAND"},
    }
    assert _ok(owner.post(f"{BASE}/pricing-rules", json=typed), 201)["rule_type"] == "DEMAND"
    # The formula is checked as ever, and the error is where it was sent.
    bad = CONTINUOUS | {
        "rule_name": "Bad",
        "rule_config": {"adjustments": {"type": "MULTIPLIER", "formula": "1.0 + utilisation"}},
    }
    own = problem(owner.post(f"{BASE}/pricing-rules", json=bad), 422)
    assert own["errors"][0]["loc"][-1] == "formula"
    generic = problem(owner.post(f"{BASE}/rules", json=bad), 422)
    assert error_locs(generic) == [["body", "rule_config", "adjustments", "formula"]]
    assert generic["errors"][0]["msg"] == own["errors"][0]["msg"]


# --- seed 001: /v1/admin/rules, every kind of rule ---------------------------------------------


def test_every_kind_of_rule_is_listed_in_one_shape(owner: Api, every_kind: dict[str, str]) -> None:
    listed = _ok(owner.get(f"{BASE}/rules"))
    assert listed["next_cursor"] is None
    rules = listed["items"]
    assert [r["rule_type"] for r in rules] == list(every_kind)
    assert [r["id"] for r in rules] == list(every_kind.values())
    by_type = {r["rule_type"]: r for r in rules}
    assert by_type["PRICING"]["rule_name"] == "Continuous Pricing - Economy"
    assert (
        by_type["PRICING"]["rule_config"]["conditions"] == CONTINUOUS["rule_config"]["conditions"]
    )
    assert (by_type["PRICING"]["priority"], by_type["PRICING"]["is_active"]) == (10, True)
    assert by_type["BUNDLING"]["rule_name"] == "Comfort Bundle"
    assert "bundle_name" not in by_type["BUNDLING"]["rule_config"]
    assert by_type["INVENTORY"]["rule_name"] is None
    assert by_type["INVENTORY"]["rule_config"]["resource_type"] == "SEAT"
    assert by_type["OFFER"]["rule_config"]["max_offers"] == 5
    assert by_type["OFFER"]["is_active"] is None
    assert by_type["FEE"]["valid_from"] == "2025-01-01T00:00:00Z"
    assert by_type["COMMISSION"]["rule_config"]["commission_type"] == "PERCENTAGE"
    # Each is at its own kind's route too.
    for rule in rules:
        assert _ok(owner.get(rule["href"]))["id"] == rule["id"]
        assert _ok(owner.get(f"/v1/admin/rules/{rule['id']}")) == rule


def test_the_list_filters_by_rule_type_and_pages_across_kinds(
    owner: Api, every_kind: dict[str, str]
) -> None:
    for rule_type, rule_id in every_kind.items():
        for name in ("rule_type", "type"):  # ours, and seed 001's
            only = _ok(owner.get(f"{BASE}/rules", params={name: rule_type}))["items"]
            assert [r["id"] for r in only] == [rule_id]
    second = _ok(owner.post(f"{BASE}/bundles", json=COMFORT | {"bundle_name": "Comfort 2"}), 201)
    everything = [r["id"] for r in _ok(owner.get(f"{BASE}/rules"))["items"]]
    assert second["id"] in everything
    assert len(everything) == 7
    for limit in (1, 2, 3, 5):
        seen, cursor = [], None
        while True:
            params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
            page = _ok(owner.get(f"{BASE}/rules", params=params))
            assert len(page["items"]) <= limit
            seen += [r["id"] for r in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == everything, limit
    body = problem(owner.get(f"{BASE}/rules", params={"rule_type": "PRICING", "type": "FEE"}), 422)
    assert error_locs(body) == [["query", "type"]]
    assert error_locs(problem(owner.get(f"{BASE}/rules", params={"rule_type": "BAGS"}), 422)) == [
        ["query", "rule_type"]
    ]
    assert error_locs(
        problem(owner.get(f"{BASE}/rules", params={"cursor": "WzksbnVsbF0"}), 422)
    ) == [["query", "cursor"]]


def test_a_rule_is_replaced_through_its_own_kind(owner: Api, every_kind: dict[str, str]) -> None:
    rule = _ok(owner.get(f"/v1/admin/rules/{every_kind['PRICING']}"))
    config = rule["rule_config"] | {"adjustments": {"type": "MULTIPLIER", "value": "1.25"}}
    body = {k: rule[k] for k in ("rule_name", "priority", "is_active", "valid_from", "valid_until")}
    updated = _ok(
        owner.put(
            f"/v1/admin/rules/{rule['id']}",
            json=body | {"rule_config": config, "priority": 20},
            headers={"If-Match": '"1"'},
        )
    )
    assert (updated["version"], updated["priority"]) == (2, 20)
    own = _ok(owner.get(rule["href"]))
    assert (own["version"], own["priority"], own["adjustments"]["value"]) == (2, 20, "1.25")
    versions = _ok(owner.get(f"/v1/admin/pricing-rules/{rule['id']}/versions"))["items"]
    assert len(versions) == 2
    # A stale version, another kind, or a field the kind lacks: refused, nothing changed.
    stale = owner.put(
        f"/v1/admin/rules/{rule['id']}", json=body | {"rule_config": config, "version": 1}
    )
    assert problem(stale, 409)
    other = owner.put(
        f"/v1/admin/rules/{rule['id']}", json=body | {"rule_config": config, "rule_type": "FEE"}
    )
    assert error_locs(problem(other, 422)) == [["body", "rule_type"]]
    bundle = _ok(owner.get(f"/v1/admin/rules/{every_kind['BUNDLING']}"))
    dated = owner.put(
        f"/v1/admin/rules/{bundle['id']}",
        json={
            "rule_name": "Comfort",
            "rule_config": bundle["rule_config"],
            "valid_from": "2025-01-01T00:00:00Z",
        },
    )
    assert "has no valid_from" in problem(dated, 422)["errors"][0]["msg"]
    # Sent back as read, it is unchanged: no new version.
    same = {k: bundle[k] for k in ("rule_name", "rule_config", "priority", "is_active")}
    assert _ok(owner.put(f"/v1/admin/rules/{bundle['id']}", json=same))["version"] == 1
    assert _ok(owner.get(rule["href"]))["version"] == 2


def test_a_rule_is_activated_and_deactivated_and_deleted_through_its_kind(
    owner: Api, every_kind: dict[str, str]
) -> None:
    for rule_type in ("PRICING", "BUNDLING", "INVENTORY", "FEE", "COMMISSION"):
        rule_id = every_kind[rule_type]
        off = _ok(
            owner.request("PATCH", f"/v1/admin/rules/{rule_id}/status", json={"is_active": False})
        )
        assert (off["is_active"], off["version"]) == (False, 2), rule_type
        assert _ok(owner.get(off["href"]))["is_active"] is False
        assert (
            owner.delete(f"/v1/admin/rules/{rule_id}", headers={"If-Match": '"2"'}).status_code
            == 204
        )
        assert problem(owner.get(off["href"]), 404)
        assert problem(owner.get(f"/v1/admin/rules/{rule_id}"), 404)
    offer = every_kind["OFFER"]
    body = problem(
        owner.request("PATCH", f"/v1/admin/rules/{offer}/status", json={"is_active": False}), 422
    )
    assert error_locs(body) == [["body", "is_active"]]
    assert "PUT" in problem(owner.delete(f"/v1/admin/rules/{offer}"), 409)["detail"]
    assert [r["rule_type"] for r in _ok(owner.get(f"{BASE}/rules"))["items"]] == ["OFFER"]


def test_the_seeds_create_body_makes_a_rule_of_its_kind(owner: Api) -> None:
    made = _ok(owner.post(f"{BASE}/rules", json=CONTINUOUS), 201)
    assert made["rule_type"] == "PRICING"
    own = _ok(owner.get(made["href"]))
    assert (own["rule_name"], own["priority"]) == ("Continuous Pricing - Economy", 10)
    bundle = {k: v for k, v in COMFORT.items() if k not in ("bundle_name", "priority")}
    made = _ok(
        owner.post(
            f"{BASE}/rules",
            json={
                "rule_type": "BUNDLING",
                "rule_name": "Comfort Bundle",
                "priority": 2,
                "rule_config": bundle,
            },
        ),
        201,
    )
    assert _ok(owner.get(made["href"]))["bundle_name"] == "Comfort Bundle"
    offer = _ok(owner.post(f"{BASE}/rules", json=OFFER_MIX), 201)
    assert _ok(owner.get(f"{BASE}/offer-rules"))["id"] == offer["id"]
    again = problem(owner.post(f"{BASE}/rules", json=OFFER_MIX), 409)
    assert f"PUT /v1/admin/rules/{offer['id']}" in again["detail"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (CONTINUOUS | {"rule_config": {"conditions": {}}}, ["body", "rule_config", "adjustments"]),
        ({k: v for k, v in CONTINUOUS.items() if k != "rule_name"}, ["body", "rule_name"]),
        (
            {"rule_type": "INVENTORY", "priority": 1, "rule_config": SEAT_HOLDS},
            ["body", "priority"],
        ),
        ({"rule_type": "RULES", "rule_config": {}}, ["body", "rule_type"]),
        ({"rule_type": "FEE", "rule_name": "x", "rule_config": EXPRESS}, ["body", "rule_name"]),
    ],
)
def test_a_wrong_rule_is_refused_where_it_was_sent(
    owner: Api, body: dict[str, Any], loc: list[Any]
) -> None:
    assert loc in error_locs(problem(owner.post(f"{BASE}/rules", json=body), 422))
    assert _ok(owner.get(f"{BASE}/rules"))["items"] == []


def test_another_tenants_rules_are_not_found(
    client: TestClient, owner: Api, every_kind: dict[str, str]
) -> None:
    stranger = tenant_api(client, "BB")
    for rule_id in every_kind.values():
        assert problem(stranger.get(f"/v1/admin/rules/{rule_id}"), 404)
        assert problem(stranger.delete(f"/v1/admin/rules/{rule_id}"), 404)
    assert problem(stranger.get(f"{BASE}/rules"), 404)
    viewer = Api(client, create_key(client, "AA", "viewer"))
    assert len(_ok(viewer.get(f"{BASE}/rules"))["items"]) == 6
    assert problem(viewer.post(f"{BASE}/rules", json=CONTINUOUS), 403)


# --- seed 003: eventType --------------------------------------------------------------------------


def test_an_event_with_the_seeds_event_type_is_recorded(client: TestClient, owner: Api) -> None:
    runtime = Api(client, create_key(client, "AA", "runtime"))
    seed = {"eventType": "opened", "profile_id": "ada", "event_id": "e1"}
    assert _ok(runtime.post("/v1/events", json=seed), 202) == {"accepted": 1, "duplicates": 0}
    # The same event in our field is the same event.
    ours = {"type": "opened", "profile_id": "ada", "event_id": "e1"}
    assert _ok(runtime.post("/v1/events", json=ours), 202) == {"accepted": 0, "duplicates": 1}
    both = problem(runtime.post("/v1/events", json=seed | {"type": "click"}), 422)
    assert error_locs(both) == [["body", "eventType"]]
    bad = problem(
        runtime.post("/v1/events", json={"events": [seed | {"eventType": "Opened"}]}), 422
    )
    assert error_locs(bad) == [["body", "events", 0, "eventType"]]


# --- seed 002 and 000: /api/v1 aliases -------------------------------------------------------------


def test_the_seeds_api_v1_paths_are_deprecated_aliases_of_ours(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    aliases = {
        (method.upper(), path): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if path.startswith("/api/v1/")
    }
    assert ("POST", "/api/v1/quote") in aliases
    for (method, path), op in aliases.items():
        assert op["tags"] == ["seed aliases"], path
        assert op["deprecated"] is True, path
        ours = op["description"].split("an alias of `", 1)[1].split("`", 1)[0]
        our_method, our_path = ours.split(" ")
        assert our_method == method
        original = doc["paths"][our_path][method.lower()]
        assert (
            op["operationId"]
            == "seed" + original["operationId"][0].upper() + original["operationId"][1:]
        )
        assert op.get("requestBody") == original.get("requestBody"), path
        assert op["responses"] == original["responses"], path
        assert op.get("parameters") == original.get("parameters"), path
        assert "deprecated" not in original


def test_an_alias_answers_as_our_route_does(client: TestClient, owner: Api) -> None:
    runtime = Api(client, create_key(client, "AA", "runtime"))
    fee = _ok(owner.post(f"{BASE}/fee-rules", json=EXPRESS), 201)
    rate = _ok(owner.post(f"{BASE}/commission-rates", json=RATE), 201)
    for ours, seed in (
        (f"/v1/admin/fee-rules/{fee['id']}", f"/api/v1/pricing-rules/{fee['id']}"),
        (f"/v1/admin/commission-rates/{rate['id']}", f"/api/v1/commission-rates/{rate['id']}"),
        ("/v1/analytics/pricing", "/api/v1/analytics/pricing"),
    ):
        assert _ok(owner.get(seed)) == _ok(owner.get(ours))
    renamed = {k: v for k, v in fee.items() if k in EXPRESS} | {"name": "Express"}
    assert _ok(owner.put(f"/api/v1/pricing-rules/{fee['id']}", json=renamed))["version"] == 2
    assert _ok(owner.get(f"/v1/admin/fee-rules/{fee['id']}"))["name"] == "Express"
    assert owner.delete(f"/api/v1/pricing-rules/{fee['id']}").status_code == 204
    assert problem(owner.get(f"/v1/admin/fee-rules/{fee['id']}"), 404)
    # Run time: a quote at either path is the same quote; the same checks guard both.
    basket = {
        "items": [{"product_id": "p1", "quantity": 2, "unit_price": "25.50"}],
        "delivery_address": {"city": "Boston", "country": "US"},
        "currency": "USD",
    }
    ours = _ok(runtime.post("/v1/quote", json=basket))["data"]
    seed = _ok(runtime.post("/api/v1/quote", json=basket))["data"]
    assert seed["total_amount"] == ours["total_amount"] == "51.00"
    assert problem(client.post("/api/v1/quote", json=basket), 401)
    viewer = Api(client, create_key(client, "AA", "viewer"))
    assert problem(viewer.post("/api/v1/quote", json=basket), 403)
    assert problem(runtime.get("/api/v1/quote"), 405)
    unknown = "0" * 32
    assert (
        problem(runtime.get(f"/api/v1/offers/{unknown}"), 404)["detail"]
        == problem(runtime.get(f"/v1/offers/{unknown}"), 404)["detail"]
    )


def test_an_alias_keeps_the_checks_of_our_route(client: TestClient, owner: Api) -> None:
    rate = _ok(owner.post(f"{BASE}/commission-rates", json=RATE), 201)
    seed = f"/api/v1/commission-rates/{rate['id']}"
    unknown = problem(owner.get(seed, params={"expand": "all"}), 422)
    assert error_locs(unknown) == [["query", "expand"]]
    nul = problem(owner.put(seed, json=RATE | {"region": "Ist\u0000anbul"}), 422)
    assert error_locs(nul) == [["body", "region"]]
    assert problem(client.get(seed), 401)
    viewer = Api(client, create_key(client, "AA", "viewer"))
    assert problem(viewer.put(seed, json=RATE), 403)
