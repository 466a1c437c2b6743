"""Pricing rules through the API: seed 001's examples as written give the prices their formulas say."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Api, create_key, error_locs, problem, tenant_api

RULES = "/v1/admin/tenants/OE/pricing-rules"
SIMULATE = "/v1/admin/pricing-rules/simulate"

# Seed 001, "Rule Configuration Examples", as written; the seed gives no priorities, so the CMS
# mockup's (10, 20) and the next one (30) order them.
DEMAND = {
    "rule_name": "Continuous Pricing - Economy",
    "rule_type": "DEMAND",
    "conditions": {"product_type": "FLIGHT", "cabin_class": "ECONOMY"},
    "adjustments": {
        "type": "MULTIPLIER",
        "formula": "1.0 + (utilization^2 * 2.0)",
        "min_multiplier": 0.5,
        "max_multiplier": 3.0,
    },
    "priority": 10,
}
LAST_MINUTE = {
    "rule_name": "Last-Minute Premium",
    "rule_type": "TIME",
    "conditions": {"days_until_departure": {"max": 7}},
    "adjustments": {"type": "MULTIPLIER", "value": 1.5},
    "priority": 20,
}
SUMMER = {
    "rule_name": "Summer Peak Season",
    "rule_type": "SEASONAL",
    "conditions": {"date_range": {"start": "2024-06-01", "end": "2024-08-31"}},
    "adjustments": {"type": "MULTIPLIER", "value": 1.3},
    "priority": 30,
}
FARE = {
    "product_type": "FLIGHT",
    "product_code": "FARE-Y",
    "name": "Economy fare",
    "base_price": "250.00",
    "currency": "USD",
}


@pytest.fixture
def owner(client: TestClient) -> Api:
    return tenant_api(client, "OE")


@pytest.fixture
def fare(owner: Api) -> dict[str, Any]:
    return dict(owner.post("/v1/admin/tenants/OE/products", json=FARE).json())


@pytest.fixture
def seed_rules(owner: Api, fare: dict[str, Any]) -> dict[str, str]:
    ids = {}
    for rule in (DEMAND, LAST_MINUTE, SUMMER):
        created = owner.post(RULES, json=rule | {"product_type": "FLIGHT"})
        assert created.status_code == 201, created.text
        ids[rule["rule_name"]] = created.json()["id"]
    return ids


def simulate(api: Api, product_id: str, **scenario: Any) -> dict[str, Any]:
    at = scenario.pop("at", "2024-07-10T12:00:00Z")
    response = api.post(SIMULATE, json={"product_id": product_id, "scenario": scenario, "at": at})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_seed_simulate_example_prices_as_the_formulas_say(
    owner: Api, fare: dict[str, Any], seed_rules: dict[str, str]
) -> None:
    # The seed's simulate scenario: utilization 0.8, 3 days to departure, economy.
    priced = simulate(
        owner, fare["id"], utilization=0.8, days_until_departure=3, cabin_class="ECONOMY"
    )
    # 1.0 + 0.8^2 * 2.0 = 2.28 → 250 × 2.28 = 570; last minute × 1.5 = 855
    assert priced["final_price"] == "855.00"
    demand, last_minute = priced["adjustments"]
    assert (demand["rule_name"], demand["multiplier"], demand["price_after"]) == (
        "Continuous Pricing - Economy",
        "2.28",
        "570.00",
    )
    assert (last_minute["multiplier"], last_minute["amount"], last_minute["price_after"]) == (
        "1.5",
        "285.00",
        "855.00",
    )
    assert demand["version"] == 1
    # No departure date in the scenario: the seasonal rule cannot apply, and says why.
    assert priced["skipped"] == [
        {
            "rule_id": seed_rules["Summer Peak Season"],
            "rule_name": "Summer Peak Season",
            "reason": "missing fact departure_date",
        }
    ]


def test_all_three_seed_rules_combine_in_priority_order(
    owner: Api, fare: dict[str, Any], seed_rules: dict[str, str]
) -> None:
    priced = simulate(
        owner, fare["id"], utilization=0.5, departure_date="2024-07-15", cabin_class="ECONOMY"
    )
    # 1 + 0.25*2 = 1.5 → 375; booked 2024-07-10 for 2024-07-15: 5 days → × 1.5 = 562.5; July → × 1.3 = 731.25
    assert priced["final_price"] == "731.25"
    assert [a["rule_name"] for a in priced["adjustments"]] == [
        "Continuous Pricing - Economy",
        "Last-Minute Premium",
        "Summer Peak Season",
    ]
    assert priced["facts"]["days_until_departure"] == "5"
    assert priced["facts"]["departure_weekday"] == "MON"


def test_the_demand_multiplier_is_clamped_to_its_bounds(
    owner: Api, fare: dict[str, Any], seed_rules: dict[str, str]
) -> None:
    # Overbooked: 1 + 1.2^2 * 2 = 3.88, kept at max_multiplier 3.0 → 750
    high = simulate(
        owner, fare["id"], utilization=1.2, days_until_departure=30, cabin_class="ECONOMY"
    )
    assert (high["adjustments"][0]["multiplier"], high["final_price"]) == ("3", "750.00")
    # Empty plane: 1 + 0 = 1.0 → 250; far from departure and out of season → nothing else applies
    low = simulate(
        owner, fare["id"], utilization=0, departure_date="2024-10-01", cabin_class="ECONOMY"
    )
    assert low["final_price"] == "250.00"
    assert {s["rule_name"]: s["reason"] for s in low["skipped"]} == {
        "Last-Minute Premium": "conditions not met",
        "Summer Peak Season": "conditions not met",
    }


def test_a_min_multiplier_holds_a_price_up(owner: Api, fare: dict[str, Any]) -> None:
    owner.post(
        RULES,
        json={
            "rule_name": "Empty-flight discount",
            "rule_type": "DEMAND",
            "adjustments": {
                "type": "MULTIPLIER",
                "formula": "1.0 - utilization",
                "min_multiplier": 0.5,
            },
        },
    )
    # 1 - 0.8 = 0.2, kept at 0.5 → 125
    assert simulate(owner, fare["id"], utilization=0.8)["final_price"] == "125.00"


def test_business_class_is_outside_the_economy_demand_rule(
    owner: Api, fare: dict[str, Any], seed_rules: dict[str, str]
) -> None:
    priced = simulate(
        owner, fare["id"], utilization=0.9, days_until_departure=30, cabin_class="BUSINESS"
    )
    assert priced["final_price"] == "250.00"
    assert priced["skipped"][0]["reason"] == "conditions not met"


def test_fixed_set_formula_exclusive_windows_and_guard_rails(owner: Api) -> None:
    bag = owner.post(
        "/v1/admin/tenants/OE/products",
        json={
            "product_type": "BAG",
            "product_code": "BAG-23",
            "name": "Bag",
            "base_price": "99.99",
            "price_floor": "80.00",
            "price_ceiling": "150.00",
        },
    ).json()

    def rule(name: str, priority: int, adjustment: dict[str, Any], **extra: Any) -> None:
        made = owner.post(
            RULES,
            json={
                "rule_name": name,
                "rule_type": "CUSTOM",
                "priority": priority,
                "adjustments": adjustment,
                "product_type": "BAG",
            }
            | extra,
        )
        assert made.status_code == 201, made.text

    rule("plus 15%", 1, {"type": "MULTIPLIER", "value": "1.15"})
    rule("expired promo", 2, {"type": "FIXED", "value": "-50"}, valid_until="2024-01-01T00:00:00Z")
    rule("agents pay a fee", 3, {"type": "FIXED", "value": "7.50"}, conditions={"channel": "agent"})
    rule("round to .99", 4, {"type": "FORMULA", "formula": "round(price, 0) - 0.01"})
    rule("inactive", 5, {"type": "SET", "value": "1"}, is_active=False)
    web = simulate(owner, bag["id"], channel="web")
    # 99.99 × 1.15 = 114.9885 → round(114.9885) - 0.01 = 114.99
    assert web["final_price"] == "114.99"
    reasons = {s["rule_name"]: s["reason"] for s in web["skipped"]}
    assert reasons["expired promo"].startswith("not valid since 2024-01-01")
    assert reasons["agents pay a fee"] == "conditions not met"
    assert reasons["inactive"] == "inactive"
    agent = simulate(owner, bag["id"], channel="agent")
    # 114.9885 + 7.50 = 122.4885 → round → 122 - 0.01 = 121.99
    assert agent["final_price"] == "121.99"

    rule(
        "stop here",
        0,
        {"type": "SET", "value": "200"},
        exclusive=True,
        conditions={"channel": "vip"},
    )
    vip = simulate(owner, bag["id"], channel="vip")
    # SET 200 is exclusive; the ceiling of 150 then holds
    assert vip["final_price"] == "150.00"
    assert vip["guard_rails"] == [
        {
            "name": "price_ceiling",
            "limit": "150.00",
            "price_before": "200.00",
            "price_after": "150.00",
        }
    ]
    vip_reasons = {s["rule_name"]: s["reason"] for s in vip["skipped"]}
    assert vip_reasons["plus 15%"] == "the exclusive rule 'stop here' applied before it"
    assert vip_reasons["round to .99"] == vip_reasons["plus 15%"]
    assert vip_reasons["expired promo"].startswith("not valid since")  # its own reason comes first

    rule("clearance", -1, {"type": "SET", "value": "10"}, conditions={"channel": "outlet"})
    outlet = simulate(owner, bag["id"], channel="outlet")
    # 10 × 1.15 = 11.5 → round → 12 - 0.01 = 11.99, held up by the floor of 80
    assert outlet["final_price"] == "80.00"


def test_rounding_happens_once_half_up_in_the_currency(client: TestClient) -> None:
    api = tenant_api(client, "JP", base_currency="JPY")
    item = api.post(
        "/v1/admin/tenants/JP/products",
        json={"product_type": "MEAL", "product_code": "M", "name": "Bento", "base_price": "1001"},
    ).json()
    api.post(
        "/v1/admin/tenants/JP/pricing-rules",
        json={
            "rule_name": "x",
            "rule_type": "CUSTOM",
            "adjustments": {"type": "MULTIPLIER", "value": "1.0005"},
        },
    )
    api.post(
        "/v1/admin/tenants/JP/pricing-rules",
        json={
            "rule_name": "y",
            "rule_type": "CUSTOM",
            "priority": 1,
            "adjustments": {"type": "MULTIPLIER", "value": "1.0005"},
        },
    )
    # 1001 × 1.0005 × 1.0005 = 1002.0012... → 1002 yen (not 1001.5 → 1002 → 1003 by rounding twice)
    priced = simulate(api, item["id"])
    assert priced["final_price"] == "1002"
    assert priced["currency"] == "JPY"


def test_bad_conditions_and_formulas_are_422s_pointing_into_the_rule(
    owner: Api, fare: dict[str, Any]
) -> None:
    bad_formula = owner.post(
        RULES,
        json=DEMAND
        | {"adjustments": DEMAND["adjustments"] | {"formula": "1.0 + (utilisation^2 * 2.0)"}},
    )
    body = problem(bad_formula, 422)
    error = body["errors"][0]
    assert error["loc"] == ["body", "adjustments", "formula"]
    assert error["position"] == 7
    assert "did you mean 'utilization'" in error["msg"]

    bad_condition = problem(
        owner.post(RULES, json=LAST_MINUTE | {"conditions": {"days_until_departur": {"max": 7}}}),
        422,
    )
    assert error_locs(bad_condition) == [["body", "conditions", "days_until_departur"]]
    assert (
        problem(
            owner.post(RULES, json=LAST_MINUTE | {"conditions": "days_until_departure <= "}), 422
        )["errors"][0]["position"]
        == 24
    )

    formula_gives_boolean = problem(
        owner.post(
            RULES, json=DEMAND | {"adjustments": {"type": "FORMULA", "formula": "price > 1"}}
        ),
        422,
    )
    assert "must give a number" in formula_gives_boolean["detail"]
    both = problem(
        owner.post(
            RULES,
            json=LAST_MINUTE
            | {"adjustments": {"type": "MULTIPLIER", "value": 1.5, "formula": "2"}},
        ),
        422,
    )
    assert "not both" in both["detail"]
    unknown_type = problem(
        owner.post(RULES, json=LAST_MINUTE | {"adjustments": {"type": "PERCENT", "value": 10}}), 422
    )
    assert error_locs(unknown_type)[0][:2] == ["body", "adjustments"]
    missing_product = problem(
        owner.post(
            RULES, json=LAST_MINUTE | {"product_id": "00000000-0000-0000-0000-000000000000"}
        ),
        422,
    )
    assert error_locs(missing_product) == [["body", "product_id"]]
    scope_clash = problem(
        owner.post(RULES, json=LAST_MINUTE | {"product_id": fare["id"], "product_type": "FLIGHT"}),
        422,
    )
    assert "not both" in scope_clash["detail"]
    window = problem(
        owner.post(
            RULES,
            json=LAST_MINUTE
            | {"valid_from": "2025-01-01T00:00:00Z", "valid_until": "2024-01-01T00:00:00Z"},
        ),
        422,
    )
    assert "after valid_from" in window["detail"]
    assert owner.get(RULES).json()["items"] == []


def test_rule_names_are_unique_within_a_tenant(owner: Api) -> None:
    assert owner.post(RULES, json=LAST_MINUTE).status_code == 201
    assert error_locs(problem(owner.post(RULES, json=LAST_MINUTE), 409)) == [["body", "rule_name"]]


def test_a_change_takes_effect_on_the_next_price(
    owner: Api, fare: dict[str, Any], seed_rules: dict[str, str]
) -> None:
    rule_id = seed_rules["Last-Minute Premium"]
    scenario = {"utilization": 0, "days_until_departure": 3, "cabin_class": "ECONOMY"}
    assert simulate(owner, fare["id"], **scenario)["final_price"] == "375.00"
    changed = owner.put(
        f"/v1/admin/pricing-rules/{rule_id}",
        json=LAST_MINUTE | {"adjustments": {"type": "MULTIPLIER", "value": 1.2}},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    after = simulate(owner, fare["id"], **scenario)
    assert after["final_price"] == "300.00"
    assert after["adjustments"][1]["version"] == 2
    off = owner.request(
        "PATCH", f"/v1/admin/pricing-rules/{rule_id}/status", json={"is_active": False}
    )
    assert (off.status_code, off.json()["is_active"], off.json()["version"]) == (200, False, 3)
    assert simulate(owner, fare["id"], **scenario)["final_price"] == "250.00"
    rolled = owner.post(f"/v1/admin/pricing-rules/{rule_id}/rollback", json={"version": 1})
    assert (rolled.json()["version"], rolled.json()["is_active"]) == (4, True)
    assert simulate(owner, fare["id"], **scenario)["final_price"] == "375.00"
    history = owner.get(f"/v1/admin/pricing-rules/{rule_id}/versions").json()["items"]
    assert [v["action"] for v in history] == ["create", "update", "status", "rollback"]


def test_validity_windows_follow_the_request_time(owner: Api, fare: dict[str, Any]) -> None:
    owner.post(
        RULES,
        json=LAST_MINUTE
        | {
            "conditions": {},
            "valid_from": "2024-12-01T00:00:00Z",
            "valid_until": "2025-01-01T00:00:00Z",
        },
    )
    assert simulate(owner, fare["id"], at="2024-11-30T23:59:59Z")["final_price"] == "250.00"
    assert simulate(owner, fare["id"], at="2024-12-01T00:00:00Z")["final_price"] == "375.00"
    assert simulate(owner, fare["id"], at="2025-01-01T00:00:00Z")["final_price"] == "250.00"


def test_simulate_refuses_unknown_facts_and_other_tenants_products(
    client: TestClient, owner: Api, fare: dict[str, Any]
) -> None:
    typo = problem(
        owner.post(SIMULATE, json={"product_id": fare["id"], "scenario": {"utilisation": 0.8}}), 422
    )
    assert error_locs(typo) == [["body", "scenario", "utilisation"]]
    assert "did you mean 'utilization'" in typo["errors"][0]["msg"]
    wrong_type = problem(
        owner.post(SIMULATE, json={"product_id": fare["id"], "scenario": {"utilization": "high"}}),
        422,
    )
    assert "expected a number" in wrong_type["errors"][0]["msg"]
    product_fact = problem(
        owner.post(SIMULATE, json={"product_id": fare["id"], "scenario": {"base_price": 1}}), 422
    )
    assert "comes from the product" in product_fact["errors"][0]["msg"]
    other = tenant_api(client, "ZZ")
    problem(other.post(SIMULATE, json={"product_id": fare["id"], "scenario": {}}), 404)


def test_nested_customer_and_context_facts_reach_the_rules(
    owner: Api, fare: dict[str, Any]
) -> None:
    owner.post(
        RULES,
        json={
            "rule_name": "Gold members on the campaign",
            "rule_type": "SEGMENT",
            "conditions": {
                "expression": "customer.tier == 'GOLD' and context.campaign == 'WINTER'"
            },
            "adjustments": {"type": "MULTIPLIER", "value": 0.9},
        },
    )
    priced = simulate(owner, fare["id"], customer={"tier": "GOLD"}, context={"campaign": "WINTER"})
    assert priced["final_price"] == "225.00"


def test_rules_list_in_the_order_they_apply_and_filter(
    owner: Api, fare: dict[str, Any], seed_rules: dict[str, str]
) -> None:
    listed = owner.get(RULES).json()["items"]
    assert [r["rule_name"] for r in listed] == [
        "Continuous Pricing - Economy",
        "Last-Minute Premium",
        "Summer Peak Season",
    ]
    assert [
        r["rule_name"] for r in owner.get(RULES, params={"rule_type": "TIME"}).json()["items"]
    ] == ["Last-Minute Premium"]
    page = owner.get(RULES, params={"limit": 2}).json()
    rest = owner.get(RULES, params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert len(page["items"]) == 2
    assert [r["rule_name"] for r in rest["items"]] == ["Summer Peak Season"]
    assert rest["next_cursor"] is None


def test_rules_export_and_import_round_trip_all_or_nothing(
    client: TestClient, owner: Api, fare: dict[str, Any], seed_rules: dict[str, str]
) -> None:
    exported = owner.get(f"{RULES}/export").json()
    assert len(exported["pricing_rules"]) == 3
    again = owner.post(f"{RULES}/import", json=exported).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)

    other = tenant_api(client, "ZZ")
    fresh = other.post("/v1/admin/tenants/ZZ/pricing-rules/import", json=exported).json()
    assert fresh["created"] == 3

    broken = {
        "pricing_rules": [
            LAST_MINUTE | {"adjustments": {"type": "MULTIPLIER", "formula": "1 +"}},
            SUMMER,
        ]
    }
    body = problem(owner.post(f"{RULES}/import", json=broken), 422)
    assert body["rows"][0]["rule_name"] == "Last-Minute Premium"
    assert error_locs(body) == [["pricing_rules", 0, "adjustments", "formula"]]


def test_a_viewer_may_simulate_and_read_but_not_change_rules(
    client: TestClient, owner: Api, fare: dict[str, Any], seed_rules: dict[str, str]
) -> None:
    viewer = Api(client, create_key(client, "OE", "viewer"))
    assert viewer.get(RULES).status_code == 200
    assert (
        simulate(
            viewer, fare["id"], utilization=0.8, days_until_departure=3, cabin_class="ECONOMY"
        )["final_price"]
        == "855.00"
    )
    problem(viewer.post(RULES, json=SUMMER | {"rule_name": "new"}), 403)


def test_the_vocabulary_lists_the_pricing_facts_operators_and_functions(owner: Api) -> None:
    vocabulary = owner.get("/v1/admin/rules/vocabulary", params={"use": "pricing"}).json()
    facts = {f["name"]: f["type"] for f in vocabulary["facts"]}
    assert facts["utilization"] == "number"
    assert facts["departure_date"] == "date"
    assert facts["customer.tier"] == "string"
    assert vocabulary["open_namespaces"][0]["prefix"] == "context."
    assert {"^", "and", "not in"} <= {o["symbol"] for o in vocabulary["operators"]}
    assert {"min", "max", "abs", "round", "clamp", "days_until"} <= {
        f["name"] for f in vocabulary["functions"]
    }
    assert any(form["form"] == "date_range" for form in vocabulary["condition_forms"])
    problem(owner.get("/v1/admin/rules/vocabulary", params={"use": "astrology"}), 422)


def test_validate_says_ok_or_where_the_rule_is_wrong(owner: Api) -> None:
    ok = owner.post(
        "/v1/admin/rules/validate",
        json={"use": "pricing", "expression": "1.0 + (utilization^2 * 2.0)", "expect": "number"},
    ).json()
    assert ok == {"ok": True, "type": "number", "facts": ["utilization"], "errors": []}
    wrong = owner.post(
        "/v1/admin/rules/validate",
        json={"expression": "cabin_class == 'ECONOMY' and utilisation > 0.8"},
    ).json()
    assert wrong["ok"] is False
    assert wrong["errors"][0]["position"] == 29  # where utilisation starts
    condition = owner.post(
        "/v1/admin/rules/validate", json={"condition": {"days_until_departure": {"max": "soon"}}}
    ).json()
    assert condition["errors"][0]["loc"] == ["days_until_departure", "max"]
    problem(owner.post("/v1/admin/rules/validate", json={"expression": "1", "condition": {}}), 422)
