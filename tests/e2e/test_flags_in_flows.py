"""Shop and decide evaluate the tenant's flags through the flags module, as quotes do: the flags
tagged `shop` or `decide` are evaluated for the customer or profile and echoed in the answer, and
a flag that follows an experiment exposes the unit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import FARE, Api, add_flight, create_key, search, tenant_api

FLAGS = "/v1/admin/tenants/FL/feature-flags"


@pytest.fixture
def owner(client: TestClient) -> Api:
    return tenant_api(client, "FL")


@pytest.fixture
def runtime(client: TestClient, owner: Api) -> Api:
    return Api(client, create_key(client, "FL", "runtime"))


def _made(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def _flags(owner: Api) -> dict[str, Any]:
    _made(
        owner.post(
            FLAGS,
            json={
                "key": "new_checkout",
                "name": "New checkout",
                "type": "BOOLEAN",
                "value": True,
                "is_enabled": True,
                "tags": ["shop", "decide"],
                "rollout": {"percentage": 100, "user_segments": ["vip"]},
            },
        )
    )
    _made(
        owner.post(
            FLAGS,
            json={"key": "untagged", "name": "Untagged", "type": "BOOLEAN", "value": True},
        )
    )
    experiment = _made(
        owner.post(
            "/v1/admin/tenants/FL/experiments",
            json={
                "key": "layout",
                "name": "Layout",
                "unit": "profile_id",
                "variants": [{"key": "control"}, {"key": "grid"}],
                "primary_metric": {"kind": "conversion", "event": "purchase"},
            },
        )
    )
    _made(owner.post(f"/v1/admin/experiments/{experiment['id']}/start"))
    _made(
        owner.post(
            FLAGS,
            json={
                "key": "layout",
                "name": "Layout",
                "type": "STRING",
                "value": "list",
                "is_enabled": True,
                "tags": ["shop"],
                "variants": [{"key": "control", "value": "list"}, {"key": "grid", "value": "grid"}],
                "rules": [{"type": "experiment", "id": "exp", "experiment_key": "layout"}],
            },
        )
    )
    return experiment


def test_a_search_echoes_the_shop_flags_for_its_customer_and_exposes_the_experiment(
    client: TestClient, owner: Api, runtime: Api
) -> None:
    experiment = _flags(owner)
    _made(owner.post("/v1/admin/tenants/FL/products", json=FARE))
    add_flight(owner, "FL")
    vip = search(runtime, customer={"id": "c-1", "segment": "vip"})
    assert vip["offers"]
    assert vip["feature_flags"]["new_checkout"] is True
    assert vip["feature_flags"]["layout"] in ("list", "grid")
    assert "untagged" not in vip["feature_flags"]
    basic = search(runtime, customer={"id": "c-2", "segment": "basic"})
    assert basic["feature_flags"]["new_checkout"] is False
    # The same customer always gets the same layout, the one its assignment gives.
    again = search(runtime, customer={"id": "c-1", "segment": "vip"})
    assert again["feature_flags"] == vip["feature_flags"]
    assigned = runtime.post("/v1/experiments/layout/assign", json={"unit_id": "c-1"}).json()
    assert (
        vip["feature_flags"]["layout"] == {"control": "list", "grid": "grid"}[assigned["variant"]]
    )
    client.portal.call(client.app.state.context.recorder.flush)  # type: ignore[attr-defined]
    results = owner.get(f"/v1/experiments/{experiment['id']}/results").json()
    assert sum(v["units"] for v in results["primary"]["variants"]) == 2  # c-1 and c-2


def test_a_decision_echoes_the_decide_flags_for_its_profile(owner: Api, runtime: Api) -> None:
    _flags(owner)
    base = "/v1/admin/tenants/FL/decisioning"
    hero = _made(
        owner.post(
            f"{base}/placements", json={"name": "Hero", "channel": "web", "content_type": "text"}
        )
    )
    reps = [{"placement_id": hero["id"], "content": {"t": "x"}}]
    _made(
        owner.post(
            f"{base}/offers",
            json={"name": "Lounge", "status": "approved", "tags": ["t"], "representations": reps},
        )
    )
    fallback = _made(
        owner.post(f"{base}/fallback-offers", json={"name": "Hi", "representations": reps})
    )
    collection = _made(owner.post(f"{base}/collections", json={"name": "All", "tags": ["t"]}))
    activity = _made(
        owner.post(
            f"{base}/activities",
            json={"name": "Home", "status": "approved", "placement_id": hero["id"],
                  "collection_id": collection["id"], "fallback_offer_id": fallback["id"]},
        )
    )  # fmt: skip

    def decide(segment: str) -> dict[str, Any]:
        return _made(
            runtime.post(
                "/v1/decisions",
                json={"profile": {"id": f"p-{segment}", "attributes": {"segment": segment}},
                      "activities": [activity["id"]]},
            )
        )  # fmt: skip

    assert decide("vip")["feature_flags"] == {"new_checkout": True}
    assert decide("basic")["feature_flags"] == {"new_checkout": False}
