"""Profiles and segments end to end: attributes and consent by API, aggregates from events, both
as profile.* facts in decisions; rule-based and learned segments with their sizes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_decisioning import Setup
from tests.helpers import Api, create_key, error_locs, tenant_api


@pytest.fixture
def owner(client: TestClient) -> Api:
    return tenant_api(client, "ZZ")


@pytest.fixture
def runtime(client: TestClient, owner: Api) -> Api:
    return Api(client, create_key(client, "ZZ", "runtime"))


def _events(runtime: Api, *events: dict[str, Any]) -> None:
    response = runtime.post("/v1/events", json={"events": list(events)})
    assert response.status_code == 202, response.text


def _names(runtime: Api, activity: dict[str, Any], profile: str) -> list[str]:
    response = runtime.post(
        "/v1/decisions",
        json={"profile": {"id": profile}, "activities": [activity["id"]], "dry_run": True},
    )
    assert response.status_code == 200, response.text
    return [i["name"] for i in response.json()["propositions"][0]["items"]]


def test_a_profile_keeps_attributes_consent_and_what_its_events_add_up_to(
    owner: Api, runtime: Api
) -> None:
    put = runtime.put(
        "/v1/profiles/ada",
        json={"attributes": {"tier": "GOLD"}, "consent": {"personalization": True}},
    )
    assert put.status_code == 200, put.text
    assert (put.json()["attributes"], put.json()["views"]) == ({"tier": "GOLD"}, 0)
    _events(
        runtime,
        {"type": "impression", "profile_id": "ada"},
        {"type": "click", "profile_id": "ada", "properties": {"category": "bags"}},
        {
            "type": "purchase",
            "profile_id": "ada",
            "value": "120.50",
            "properties": {"category": "bags"},
        },
        {
            "type": "purchase",
            "profile_id": "ada",
            "value": "30",
            "properties": {"category": "seats"},
        },
        {"type": "signup", "profile_id": "ada"},  # not an aggregate
        {"type": "click", "profile_id": "bob"},  # makes bob's profile
    )
    found = runtime.get("/v1/profiles/ada").json()
    assert (found["views"], found["clicks"], found["purchases"]) == (1, 1, 2)
    assert found["spend"] == pytest.approx(150.5)
    assert found["categories"]["bags"]["purchases"] == 1
    assert found["categories"]["bags"]["spend"] == pytest.approx(120.5)
    assert found["categories"]["seats"]["clicks"] == 0
    assert found["last_seen_at"] is not None
    assert runtime.get("/v1/profiles/bob").json()["clicks"] == 1
    # PUT replaces attributes and consent; the aggregates stay.
    again = runtime.put("/v1/profiles/ada", json={"attributes": {"tier": "SILVER"}}).json()
    assert (again["attributes"], again["consent"], again["purchases"]) == (
        {"tier": "SILVER"},
        {},
        2,
    )

    bad = runtime.put("/v1/profiles/ada", json={"attributes": {"spend": 1}})
    assert bad.status_code == 422, bad.text
    assert ["body", "attributes", "spend"] in error_locs(bad.json())
    bad = runtime.put("/v1/profiles/ada", json={"consent": {"personalization": "yes"}})
    assert bad.status_code == 422
    assert runtime.get("/v1/profiles/nobody").status_code == 404
    assert runtime.delete("/v1/profiles/bob").status_code == 204
    assert runtime.get("/v1/profiles/bob").status_code == 404


def test_decisions_read_stored_profiles_and_segments_and_honour_consent(
    owner: Api, runtime: Api
) -> None:
    setup = Setup(owner)
    setup.offer("Loyal reward", 95, ["travel"], eligibility="profile.purchases >= 2")
    setup.offer("Big spender perk", 99, ["travel"], eligibility="'big-spender' in profile.segments")
    activity = setup.activity("Profiled", setup.hero)
    segments = owner.put(
        "/v1/admin/tenants/ZZ/segments",
        json={
            "segments": [
                {"name": "big-spender", "condition": "profile.spend >= 100"},
                {
                    "name": "behaviour",
                    "learned": {"features": ["clicks", "purchases", "spend"], "clusters": 2},
                },
            ]
        },
    )
    assert segments.status_code == 200, segments.text
    for name, purchases, value in (("ada", 2, "80"), ("cy", 1, "5"), ("di", 0, "0")):
        runtime.put("/v1/profiles/" + name, json={"consent": {"personalization": True}})
        _events(
            runtime,
            *({"type": "purchase", "profile_id": name, "value": value} for _ in range(purchases)),
            {"type": "click", "profile_id": name},
        )
    # Ada bought twice for 160: the loyal reward and the big spender's perk are hers.
    assert _names(runtime, activity, "ada") == ["Big spender perk"]
    assert _names(runtime, activity, "cy")[0] not in ("Big spender perk", "Loyal reward")

    learnt = owner.post("/v1/admin/tenants/ZZ/segments/behaviour/learn")
    assert learnt.status_code == 200, learnt.text
    assert learnt.json()["profiles"] == 3
    assert sorted(learnt.json()["sizes"]) == [1, 2]
    sizes = owner.get("/v1/admin/tenants/ZZ/segments/sizes").json()
    assert sizes["profiles"] == 3
    by_name = {s["name"]: s for s in sizes["segments"]}
    assert by_name["big-spender"]["size"] == 1
    assert sorted(c["size"] for c in by_name["behaviour"]["clusters"]) == [1, 2]
    ada = runtime.get("/v1/profiles/ada").json()
    assert "big-spender" in ada["segments"]
    assert any(s.startswith("behaviour:") for s in ada["segments"])

    # Without consent to personalise, what is kept of her stays out of her decisions.
    runtime.put("/v1/profiles/ada", json={"consent": {"personalization": False}})
    assert _names(runtime, activity, "ada")[0] not in ("Big spender perk", "Loyal reward")
    assert runtime.get("/v1/profiles/ada").json()["segments"] == []


def test_bad_segments_are_422s_naming_the_field(owner: Api) -> None:
    for body, loc in (
        ({"segments": [{"name": "x"}]}, ["body", "segments", 0]),
        (
            {"segments": [{"name": "x", "condition": "profile.spend >"}]},
            ["body", "segments", 0, "condition"],
        ),
        (
            {"segments": [{"name": "x", "condition": "context.channel == 'web'"}]},
            ["body", "segments", 0, "condition"],
        ),
        (
            {"segments": [{"name": "x", "condition": "true"}, {"name": "x", "condition": "true"}]},
            ["body", "segments", 1, "name"],
        ),
        ({"segments": [{"name": "x", "learned": {"features": [], "clusters": 3}}]}, None),
    ):
        response = owner.put("/v1/admin/tenants/ZZ/segments", json=body)
        assert response.status_code == 422, response.text
        if loc is not None:
            assert any(e[: len(loc)] == loc for e in error_locs(response.json())), response.text
    owner.put(
        "/v1/admin/tenants/ZZ/segments",
        json={"segments": [{"name": "b", "learned": {"features": ["clicks"], "clusters": 3}}]},
    ).raise_for_status()
    few = owner.post("/v1/admin/tenants/ZZ/segments/b/learn")
    assert few.status_code == 409, few.text
    assert owner.post("/v1/admin/tenants/ZZ/segments/nope/learn").status_code == 404
