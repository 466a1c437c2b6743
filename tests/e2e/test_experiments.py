"""Experiments through the API: assignment, stickiness, events and results."""

from __future__ import annotations

import random
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Api, create_key, error_locs, problem, tenant_api

EXPERIMENTS = "/v1/admin/tenants/OE/experiments"
BUNDLE_TEST = {
    "key": "comfort_bundle_discount",
    "name": "Comfort bundle at 15% off",
    "hypothesis": "A deeper bundle discount raises bundle conversion by 10%",
    "unit": "profile_id",
    "variants": [
        {"key": "control", "weight": 50, "config": {}},
        {"key": "deeper", "weight": 50, "config": {"pricing_rule_tags": ["bundle-15"]}},
    ],
    "primary_metric": {"kind": "conversion", "event": "purchase"},
    "secondary_metrics": [{"kind": "revenue", "event": "purchase"}],
}


@pytest.fixture
def owner(client: TestClient) -> Api:
    return tenant_api(client, "OE")


@pytest.fixture
def runtime(client: TestClient, owner: Api) -> Api:
    return Api(client, create_key(client, "OE", "runtime"))


def create_and_start(owner: Api, body: dict[str, Any]) -> dict[str, Any]:
    created = owner.post(EXPERIMENTS, json=body)
    assert created.status_code == 201, created.text
    started = owner.post(f"/v1/admin/experiments/{created.json()['id']}/start")
    assert started.status_code == 200, started.text
    return dict(started.json())


def assign(runtime: Api, key: str, unit: str, **attributes: Any) -> dict[str, Any]:
    response = runtime.post(
        f"/v1/experiments/{key}/assign", json={"unit_id": unit, "attributes": attributes}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_draft_assigns_nobody_and_a_started_experiment_splits_units(
    owner: Api, runtime: Api
) -> None:
    created = owner.post(EXPERIMENTS, json=BUNDLE_TEST).json()
    draft = assign(runtime, "comfort_bundle_discount", "p1")
    assert (draft["in_experiment"], draft["variant"]) == (False, "control")
    owner.post(f"/v1/admin/experiments/{created['id']}/start")
    seen = [assign(runtime, "comfort_bundle_discount", f"p{i}") for i in range(300)]
    assert all(s["in_experiment"] for s in seen)
    deeper = [s for s in seen if s["variant"] == "deeper"]
    assert 110 < len(deeper) < 190
    assert deeper[0]["config"] == {"pricing_rule_tags": ["bundle-15"]}
    assert 0 <= seen[0]["bucket"] < 1
    assert seen[0]["hash_value"] == "p0"


def test_exposed_units_keep_their_variant_when_the_weights_change(owner: Api, runtime: Api) -> None:
    experiment = create_and_start(owner, BUNDLE_TEST)
    before = {
        f"p{i}": assign(runtime, "comfort_bundle_discount", f"p{i}")["variant"] for i in range(200)
    }
    assert set(before.values()) == {"control", "deeper"}
    heavier = {
        **BUNDLE_TEST,
        "variants": [{"key": "control", "weight": 1}, {"key": "deeper", "weight": 99}],
    }
    changed = owner.put(f"/v1/admin/experiments/{experiment['id']}", json=heavier)
    assert changed.status_code == 200, changed.text
    after = {unit: assign(runtime, "comfort_bundle_discount", unit) for unit in before}
    assert {u: a["variant"] for u, a in after.items()} == before
    assert all(a["sticky"] for a in after.values())
    newcomers = [
        assign(runtime, "comfort_bundle_discount", f"new{i}")["variant"] for i in range(100)
    ]
    assert newcomers.count("deeper") > 90
    renamed = {**BUNDLE_TEST, "variants": [{"key": "control"}, {"key": "other"}]}
    problem(owner.put(f"/v1/admin/experiments/{experiment['id']}", json=renamed), 409)


def test_targeting_and_coverage_keep_units_out(owner: Api, runtime: Api) -> None:
    create_and_start(
        owner,
        {**BUNDLE_TEST, "targeting": {"country": {"$in": ["TR", "GB"]}}, "coverage": 0.5},
    )
    outside = assign(runtime, "comfort_bundle_discount", "p1", country="US")
    assert (outside["in_experiment"], outside["variant"]) == (False, "control")
    assert "targeting" in outside["reason"]
    inside = [assign(runtime, "comfort_bundle_discount", f"q{i}", country="TR") for i in range(200)]
    share = sum(a["in_experiment"] for a in inside) / 200
    assert 0.35 < share < 0.65


def test_results_find_a_known_lift(owner: Api, runtime: Api) -> None:
    experiment = create_and_start(owner, BUNDLE_TEST)
    rng = random.Random(7)
    events = []
    for i in range(1200):
        unit = f"p{i}"
        variant = assign(runtime, "comfort_bundle_discount", unit)["variant"]
        rate = 0.50 if variant == "deeper" else 0.25
        if rng.random() < rate:
            events.append(
                {"type": "purchase", "profile_id": unit, "value": "100.00", "currency": "USD"}
            )
    for start in range(0, len(events), 500):
        sent = runtime.post("/v1/events", json={"events": events[start : start + 500]})
        assert sent.status_code == 202, sent.text
    results = owner.get(f"/v1/experiments/{experiment['id']}/results").json()
    arms = {a["variant"]: a for a in results["primary"]["variants"]}
    assert sum(a["units"] for a in arms.values()) == 1200
    assert sum(a["conversions"] for a in arms.values()) == len(events)
    comparison = results["primary"]["comparisons"][0]
    assert comparison["variant"] == "deeper"
    low, high = comparison["relative_ci"]
    assert low <= 1.0 <= high  # the truth: 0.50 / 0.25 − 1
    assert comparison["p_value"] < 0.001
    assert comparison["test"] == "two-proportion z-test"
    assert comparison["chance_to_beat_control"] > 0.99
    assert results["verdict"]["decision"] == "ship"
    assert results["verdict"]["winner"] == "deeper"
    assert results["sample_ratio"]["warning"] is False
    revenue = results["secondary"][0]
    assert revenue["key"] == "revenue_purchase"
    assert revenue["comparisons"][0]["test"] == "Welch's t-test"


def test_a_stopped_experiment_serves_its_winner_to_everyone(owner: Api, runtime: Api) -> None:
    experiment = create_and_start(owner, BUNDLE_TEST)
    stopped = owner.post(
        f"/v1/admin/experiments/{experiment['id']}/stop", json={"winner": "deeper"}
    )
    assert stopped.status_code == 200, stopped.text
    served = assign(runtime, "comfort_bundle_discount", "anyone")
    assert (served["in_experiment"], served["variant"]) == (False, "deeper")
    problem(owner.post(f"/v1/admin/experiments/{experiment['id']}/start"), 409)


def test_bad_experiments_and_events_are_problems_naming_the_field(owner: Api, runtime: Api) -> None:
    body = problem(
        owner.post(
            EXPERIMENTS,
            json={
                **BUNDLE_TEST,
                "variants": [{"key": "a"}, {"key": "a"}],
                "targeting": {"x": {"$bad": 1}},
            },
        ),
        422,
    )
    assert ["body", "variants", 1, "key"] in error_locs(body)
    assert ["body", "targeting", "x", "$bad"] in error_locs(body)
    problem(owner.post(EXPERIMENTS, json={**BUNDLE_TEST, "variants": [{"key": "solo"}]}), 422)
    event = problem(runtime.post("/v1/events", json={"type": "purchase"}), 422)
    assert "profile_id" in event["detail"]
    future = problem(
        runtime.post(
            "/v1/events",
            json={"type": "click", "profile_id": "p", "occurred_at": "2999-01-01T00:00:00Z"},
        ),
        422,
    )
    assert error_locs(future) == [["body", "occurred_at"]]  # one event: no batch to index
    problem(runtime.post("/v1/experiments/nope/assign", json={"unit_id": "p"}), 404)


def test_a_flag_can_follow_an_experiment_and_records_the_exposure(owner: Api, runtime: Api) -> None:
    experiment = create_and_start(owner, BUNDLE_TEST)
    flag = owner.post(
        "/v1/admin/tenants/OE/feature-flags",
        json={
            "key": "bundle_discount",
            "name": "Bundle discount",
            "type": "NUMBER",
            "value": 10,
            "is_enabled": True,
            "variants": [{"key": "control", "value": 10}, {"key": "deeper", "value": 15}],
            "rules": [
                {"type": "experiment", "id": "exp", "experiment_key": "comfort_bundle_discount"}
            ],
        },
    )
    assert flag.status_code == 201, flag.text
    found = runtime.post(
        "/v1/feature-flags/bundle_discount/evaluate", json={"context": {"profile_id": "p9"}}
    ).json()
    assigned = assign(runtime, "comfort_bundle_discount", "p9")
    assert found["variant"] == assigned["variant"]
    assert found["value"] == {"control": 10, "deeper": 15}[assigned["variant"]]
    assert found["experiment"]["key"] == "comfort_bundle_discount"
    assert assigned["sticky"] is True  # the flag evaluation was the first exposure
    results = owner.get(f"/v1/experiments/{experiment['id']}/results").json()
    assert sum(a["units"] for a in results["primary"]["variants"]) == 1
