"""The generic edits (versioning.editing) as flags, experiments and the tenant's documents get
them: versions for every change and none for no change, stale versions refused, unique keys,
actions recorded as versions, rollback (a deleted object recreated under its id)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Api, error_locs, problem, tenant_api

FLAGS = "/v1/admin/tenants/OE/feature-flags"
EXPERIMENTS = "/v1/admin/tenants/OE/experiments"
FARE_SETTINGS = "/v1/admin/tenants/OE/fare-settings"
FLAG = {"key": "new_checkout", "name": "New checkout", "type": "BOOLEAN", "value": True}
EXPERIMENT = {
    "key": "seat_map",
    "name": "A larger seat map",
    "unit": "profile_id",
    "variants": [{"key": "control", "weight": 50}, {"key": "large", "weight": 50}],
    "primary_metric": {"kind": "conversion", "event": "purchase"},
}


@pytest.fixture
def owner(client: TestClient) -> Api:
    return tenant_api(client, "OE")


def actions(api: Api, path: str) -> list[str]:
    return [v["action"] for v in api.get(f"{path}/versions").json()["items"]]


def test_a_flag_changes_by_version_and_an_unchanged_save_makes_none(owner: Api) -> None:
    flag = owner.post(FLAGS, json=FLAG).json()
    path = f"/v1/admin/feature-flags/{flag['id']}"
    same = owner.put(path, json=FLAG)
    assert (same.status_code, same.json()["version"], same.headers["ETag"]) == (200, 1, '"1"')
    changed = owner.put(path, json=FLAG | {"value": False}, headers={"If-Match": '"1"'})
    assert (changed.json()["version"], changed.json()["value"]) == (2, False)
    problem(owner.put(path, json=FLAG, headers={"If-Match": '"1"'}), 409)
    assert actions(owner, path) == ["create", "update"]


def test_a_flag_key_is_unique_in_its_tenant_on_create_update_and_rollback(owner: Api) -> None:
    first = owner.post(FLAGS, json=FLAG).json()
    assert ["body", "key"] in error_locs(problem(owner.post(FLAGS, json=FLAG), 409))
    other = owner.post(FLAGS, json=FLAG | {"key": "other"}).json()
    problem(owner.put(f"/v1/admin/feature-flags/{other['id']}", json=FLAG), 409)
    assert owner.delete(f"/v1/admin/feature-flags/{first['id']}").status_code == 204
    owner.put(f"/v1/admin/feature-flags/{other['id']}", json=FLAG)  # takes the freed key
    rollback = f"/v1/admin/feature-flags/{first['id']}/rollback"
    problem(owner.post(rollback, json={"version": 1}), 409)


def test_a_deleted_flag_comes_back_under_its_id_with_its_history(owner: Api) -> None:
    flag = owner.post(FLAGS, json=FLAG).json()
    path = f"/v1/admin/feature-flags/{flag['id']}"
    owner.put(path, json=FLAG | {"value": False})
    assert owner.delete(path, headers={"If-Match": '"2"'}).status_code == 204
    problem(owner.get(path), 404)
    restored = owner.post(f"{path}/rollback", json={"version": 1})
    assert restored.status_code == 200, restored.text
    assert (restored.json()["id"], restored.json()["version"]) == (flag["id"], 4)
    assert restored.json()["value"] is True
    assert actions(owner, path) == ["create", "update", "delete", "rollback"]


def test_starting_and_stopping_an_experiment_are_versions_guarded_by_if_match(owner: Api) -> None:
    experiment = owner.post(EXPERIMENTS, json=EXPERIMENT).json()
    path = f"/v1/admin/experiments/{experiment['id']}"
    problem(owner.post(f"{path}/start", headers={"If-Match": '"2"'}), 409)
    started = owner.post(f"{path}/start", headers={"If-Match": '"1"'})
    assert (started.json()["status"], started.headers["ETag"]) == ("running", '"2"')
    problem(owner.post(f"{path}/stop", json={"version": 1}), 409)
    assert ["body", "winner"] in error_locs(
        problem(owner.post(f"{path}/stop", json={"winner": "huge"}), 422)
    )
    stopped = owner.post(f"{path}/stop", json={"winner": "large", "version": 2})
    assert (stopped.json()["status"], stopped.json()["winner"]) == ("stopped", "large")
    assert actions(owner, path) == ["create", "status", "status"]
    assert owner.delete(path).status_code == 405  # stopped, never deleted


def test_a_running_experiment_keeps_its_variant_keys_through_edits_and_rollbacks(
    owner: Api,
) -> None:
    experiment = owner.post(EXPERIMENTS, json=EXPERIMENT).json()
    path = f"/v1/admin/experiments/{experiment['id']}"
    renamed = EXPERIMENT | {"variants": [{"key": "control"}, {"key": "larger"}]}
    assert owner.put(path, json=renamed).json()["version"] == 2  # a draft may
    owner.post(f"{path}/start")
    assert ["body", "variants"] in error_locs(problem(owner.put(path, json=EXPERIMENT), 409))
    problem(owner.post(f"{path}/rollback", json={"version": 1}), 409)
    assert owner.get(path).json()["variants"][1]["key"] == "larger"


def test_the_fare_settings_are_created_on_first_save_and_roll_back(owner: Api) -> None:
    never = owner.get(FARE_SETTINGS)
    assert (never.json()["version"], never.json()["id"], never.headers["ETag"]) == (0, None, '"0"')
    problem(owner.put(FARE_SETTINGS, json={"child_ratio": "0.5"}, headers={"If-Match": '"1"'}), 409)
    first = owner.put(FARE_SETTINGS, json={"child_ratio": "0.5"}, headers={"If-Match": '"0"'})
    assert (first.json()["version"], first.json()["child_ratio"]) == (1, "0.5")
    assert owner.put(FARE_SETTINGS, json={"child_ratio": "0.5"}).json()["version"] == 1
    owner.put(FARE_SETTINGS, json={"child_ratio": "0.6", "version": 1})
    problem(owner.put(FARE_SETTINGS, json={"child_ratio": "0.7", "version": 1}), 409)
    path = f"/v1/admin/fare-settings/{first.json()['id']}"
    rolled = owner.post(f"{path}/rollback", json={"version": 1})
    assert (rolled.json()["version"], rolled.json()["child_ratio"]) == (3, "0.5")
    assert owner.get(FARE_SETTINGS).json()["child_ratio"] == "0.5"
    assert actions(owner, path) == ["create", "update", "rollback"]
