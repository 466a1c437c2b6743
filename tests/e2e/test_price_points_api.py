"""Price-point policies end to end, on SQLite and PostgreSQL: a configuration kind with versions,
rollback, export/import and audit; bad input refused naming the field; and the policy's report,
the booking policies compared on a simulated route with its points and the learned prices'
off-policy estimate against the rules' prices."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.settings import Settings
from tests.conftest import make_settings
from tests.helpers import error_locs, problem, tenant_api

POLICIES = "/v1/admin/tenants/OE/price-point-policies"
POLICY = {
    "cabin": "ECONOMY",
    "route": "JFK-LHR",
    "multipliers": ["0.9", "1", "1.1", "1.2", "1.3"],
    "max_step": "0.2",
    "epsilon": 0.3,
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_price_point_policy_is_versioned_rolled_back_exported_imported_and_audited(
    client: TestClient,
) -> None:
    owner = tenant_api(client, "OE")
    made = owner.post(POLICIES, json=POLICY)
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["mode"] == "shadow"  # by default it only logs what it would choose
    assert created["multipliers"] == ["0.9", "1", "1.1", "1.2", "1.3"]
    path = f"/v1/admin/price-point-policies/{created['id']}"
    live = {**POLICY, "mode": "live", "max_step": "0.1"}
    changed = owner.put(path, json=live, headers={"If-Match": '"1"'})
    assert (changed.status_code, changed.json()["version"]) == (200, 2)
    assert changed.json()["mode"] == "live"
    # Saving the same again is no new version.
    same = owner.put(path, json={**live, "multipliers": ["0.90", "1.0", "1.1", "1.2", "1.3"]})
    assert same.json()["version"] == 2
    problem(owner.put(path, json=POLICY, headers={"If-Match": '"1"'}), 409)
    rolled = owner.post(f"{path}/rollback", json={"version": 1})
    assert rolled.status_code == 200, rolled.text
    assert owner.get(path).json()["mode"] == "shadow"
    versions = owner.get(f"{path}/versions").json()["items"]
    assert [v["action"] for v in versions] == ["create", "update", "rollback"]

    exported = owner.get(f"{POLICIES}/export").json()
    assert exported["price_point_policies"][0]["max_step"] == "0.2"
    business = {"cabin": "BUSINESS", "multipliers": ["1", "1.1"], "max_step": "0.1"}
    imported = owner.post(
        f"{POLICIES}/import",
        json={"price_point_policies": [*exported["price_point_policies"], business]},
    ).json()
    assert (imported["created"], imported["updated"], imported["unchanged"]) == (1, 0, 1)
    listed = owner.get(POLICIES).json()["items"]
    assert [(p["cabin"], p["route"]) for p in listed] == [
        ("BUSINESS", None),
        ("ECONOMY", "JFK-LHR"),
    ]
    audit = owner.get("/v1/admin/tenants/OE/audit", params={"object_type": "price_point_policy"})
    actions = [e["action"] for e in audit.json()["items"]]
    assert actions.count("price_point_policy.create") == 2
    assert "price_point_policy.rollback" in actions


def test_a_bad_price_point_policy_is_refused_naming_the_field_and_a_taken_scope_is_a_409(
    client: TestClient,
) -> None:
    owner = tenant_api(client, "OE")
    for bad, loc in (
        ({**POLICY, "multipliers": ["0.9", "1.1"]}, ["body", "multipliers"]),
        ({**POLICY, "multipliers": ["1.1", "1", "0.9"]}, ["body", "multipliers"]),
        ({**POLICY, "multipliers": ["1", "1"]}, ["body", "multipliers"]),
        ({**POLICY, "multipliers": []}, ["body", "multipliers"]),
        ({**POLICY, "multipliers": ["1", "-1"]}, ["body", "multipliers", 1]),
        ({**POLICY, "max_step": "0"}, ["body", "max_step"]),
        ({**POLICY, "epsilon": 2}, ["body", "epsilon"]),
        ({**POLICY, "mode": "on"}, ["body", "mode"]),
        ({**POLICY, "route": "JFK"}, ["body", "route"]),
        ({**POLICY, "cabin": "STEERAGE"}, ["body", "cabin"]),
    ):
        assert loc in error_locs(problem(owner.post(POLICIES, json=bad), 422)), bad
    assert owner.get(POLICIES).json()["items"] == []
    assert owner.post(POLICIES, json=POLICY).status_code == 201
    assert error_locs(problem(owner.post(POLICIES, json=POLICY), 409)) == [["body", "route"]]


def test_the_policys_report_compares_the_booking_policies_with_its_learned_prices(
    client: TestClient,
) -> None:
    owner = tenant_api(client, "OE")
    created = owner.post(POLICIES, json=POLICY).json()
    path = f"/v1/admin/price-point-policies/{created['id']}/simulate"
    report = owner.post(path, json={"departures": 40, "history": 40, "seed": 1})
    assert report.status_code == 200, report.text
    body = report.json()
    by_policy = {o["policy"]: o for o in body["outcomes"]}
    assert list(by_policy) == ["fcfs", "emsr-b", "emsr-b+prices"]
    assert by_policy["emsr-b"]["revenue"] > by_policy["fcfs"]["revenue"]
    assert by_policy["emsr-b+prices"]["revenue"] > by_policy["emsr-b"]["revenue"]
    assert body["capacity"] == 150
    assert set(body["points_served"]) <= set(POLICY["multipliers"])
    for estimate in (body["learned"], body["rules"]):
        assert estimate["method"] == "snips"
        assert estimate["low"] <= estimate["value"] <= estimate["high"]
    # A policy that may only serve the rules' price learns nothing to serve but it.
    only = owner.post(POLICIES, json={"cabin": "BUSINESS", "multipliers": ["1"], "max_step": "1"})
    flat = owner.post(
        f"/v1/admin/price-point-policies/{only.json()['id']}/simulate",
        json={"departures": 5, "history": 5},
    ).json()
    assert flat["points_served"] == {"1": 1.0}
    rows = {o["policy"]: o["revenue"] for o in flat["outcomes"]}
    assert rows["emsr-b+prices"] == rows["emsr-b"]
    # Bad input is a 422 naming the field; another tenant's policy or none is a 404.
    assert ["body", "departures"] in error_locs(
        problem(owner.post(path, json={"departures": 0}), 422)
    )
    scenario = {"capacity": 0, "fares": [], "edges": [], "segments": []}
    assert problem(owner.post(path, json={"scenario": scenario}), 422)["errors"]
    crowd = {
        "capacity": 100,
        "fares": [{"code": "Y", "fare": "100"}],
        "edges": [30, 0],
        "segments": [{"name": "all", "arrivals": [5000, 5000], "median_wtp": 150, "spread": 0.5}],
    }
    assert problem(owner.post(path, json={"scenario": crowd}), 422)["errors"]
    problem(owner.post(f"/v1/admin/price-point-policies/{uuid.uuid4()}/simulate"), 404)
    other = tenant_api(client, "XX")
    problem(other.post(path, json={}), 404)
