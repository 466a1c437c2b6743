"""Feature flags through the API: seed 002's example as written, rules, OFREP."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Api, create_key, error_locs, problem, tenant_api

FLAGS = "/v1/admin/tenants/MK/feature-flags"

# Seed 002, "Feature Flag Configuration", as written.
DYNAMIC_PRICING = {
    "key": "dynamic_pricing",
    "name": "Dynamic Pricing",
    "description": "Enable dynamic pricing based on demand",
    "type": "BOOLEAN",
    "value": True,
    "is_enabled": True,
    "rollout": {
        "percentage": 50.0,
        "user_segments": ["premium", "vip"],
        "regions": ["Istanbul", "Ankara"],
    },
}


@pytest.fixture
def owner(client: TestClient) -> Api:
    return tenant_api(client, "MK", kind="marketplace", base_currency="TRY")


@pytest.fixture
def runtime(client: TestClient, owner: Api) -> Api:
    return Api(client, create_key(client, "MK", "runtime"))


def create(owner: Api, flag: dict[str, Any]) -> dict[str, Any]:
    response = owner.post(FLAGS, json=flag)
    assert response.status_code == 201, response.text
    return dict(response.json())


def evaluate(runtime: Api, key: str, context: dict[str, Any]) -> dict[str, Any]:
    response = runtime.post(f"/v1/feature-flags/{key}/evaluate", json={"context": context})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_seed_flag_rolls_out_to_half_of_the_listed_segments_and_regions(
    owner: Api, runtime: Api
) -> None:
    create(owner, DYNAMIC_PRICING)
    on = 0
    users = 2000
    for i in range(users):
        found = evaluate(
            runtime, "dynamic_pricing", {"user_id": f"u{i}", "segment": "vip", "region": "Istanbul"}
        )
        assert found["reason"] == "SPLIT"
        on += found["value"] is True
    # Binomial(2000, 0.5): 4 standard deviations is ±89.
    assert abs(on - users / 2) < 90

    basic = evaluate(
        runtime, "dynamic_pricing", {"user_id": "u1", "segment": "basic", "region": "Istanbul"}
    )
    assert (basic["value"], basic["reason"]) == (False, "DEFAULT")
    assert "user_segments" in basic["detail"]
    izmir = evaluate(
        runtime, "dynamic_pricing", {"user_id": "u1", "segment": "vip", "region": "Izmir"}
    )
    assert (izmir["value"], izmir["reason"]) == (False, "DEFAULT")
    lowercase = evaluate(
        runtime, "dynamic_pricing", {"user_id": "u1", "segment": "vip", "region": "ankara"}
    )
    assert lowercase["reason"] == "SPLIT"


def test_without_a_unit_a_percentage_rollout_is_off_and_says_why(owner: Api, runtime: Api) -> None:
    create(owner, DYNAMIC_PRICING)
    found = evaluate(runtime, "dynamic_pricing", {"segment": "vip", "region": "Ankara"})
    assert (found["value"], found["reason"]) == (False, "DEFAULT")
    assert "no user_id" in found["detail"]


def test_the_same_unit_always_gets_the_same_answer(owner: Api, runtime: Api) -> None:
    create(owner, DYNAMIC_PRICING)
    context = {"user_id": "stable-7", "segment": "premium", "region": "Ankara"}
    answers = {evaluate(runtime, "dynamic_pricing", context)["value"] for _ in range(20)}
    assert len(answers) == 1


def test_rules_apply_in_order_before_the_rollout(owner: Api, runtime: Api) -> None:
    create(
        owner,
        {
            "key": "express_delivery_multiplier",
            "name": "Express delivery multiplier",
            "type": "NUMBER",
            "value": 1.5,
            "default_value": 1.0,
            "is_enabled": True,
            "rules": [
                {
                    "type": "force",
                    "id": "staff",
                    "condition": {"email": {"$regex": "@mk\\.example$"}},
                    "value": 2.0,
                },
                {
                    "type": "force",
                    "id": "istanbul-vip",
                    "condition": {"region": "Istanbul", "segment": "vip"},
                    "value": 1.8,
                },
                {
                    "type": "rollout",
                    "id": "beta",
                    "condition": {"attributes.beta": True},
                    "percentage": 100,
                    "value": 1.7,
                },
            ],
            "rollout": {"percentage": 0},
        },
    )
    staff = evaluate(
        runtime, "express_delivery_multiplier", {"user_id": "a", "email": "ayse@mk.example"}
    )
    assert (staff["value"], staff["reason"], staff["rule_id"]) == (2.0, "TARGETING_MATCH", "staff")
    vip = evaluate(
        runtime,
        "express_delivery_multiplier",
        {"user_id": "b", "region": "Istanbul", "segment": "vip"},
    )
    assert (vip["value"], vip["rule_id"]) == (1.8, "istanbul-vip")
    beta = evaluate(
        runtime, "express_delivery_multiplier", {"user_id": "c", "attributes": {"beta": True}}
    )
    assert (beta["value"], beta["reason"], beta["rule_id"]) == (1.7, "SPLIT", "beta")
    nobody = evaluate(runtime, "express_delivery_multiplier", {"user_id": "d"})
    assert (nobody["value"], nobody["reason"]) == (1.0, "SPLIT")


def test_a_split_rule_serves_variants_by_weight(owner: Api, runtime: Api) -> None:
    create(
        owner,
        {
            "key": "checkout_copy",
            "name": "Checkout copy",
            "type": "STRING",
            "value": "Buy now",
            "is_enabled": True,
            "variants": [
                {"key": "short", "value": "Buy", "weight": 3},
                {"key": "long", "value": "Complete your purchase", "weight": 1},
            ],
            "rules": [{"type": "split", "id": "copy-test"}],
        },
    )
    seen = [evaluate(runtime, "checkout_copy", {"user_id": f"u{i}"}) for i in range(400)]
    short = sum(s["variant"] == "short" for s in seen)
    assert 250 < short < 350  # 75% of 400 = 300
    assert {s["value"] for s in seen} == {"Buy", "Complete your purchase"}


def test_a_disabled_flag_serves_its_default(owner: Api, runtime: Api) -> None:
    create(owner, {**DYNAMIC_PRICING, "is_enabled": False})
    found = evaluate(runtime, "dynamic_pricing", {"user_id": "u1"})
    assert (found["value"], found["reason"], found["variant"]) == (False, "DISABLED", "off")


def test_values_must_fit_the_type_and_conditions_must_read(owner: Api) -> None:
    body = problem(
        owner.post(
            FLAGS,
            json={
                **DYNAMIC_PRICING,
                "value": "yes",
                "rules": [
                    {"type": "force", "id": "r", "condition": {"age": {"$gtr": 3}}, "value": True}
                ],
            },
        ),
        422,
    )
    assert ["body", "value"] in error_locs(body)
    assert ["body", "rules", 0, "condition", "age", "$gtr"] in error_locs(body)
    problem(owner.post(FLAGS, json={**DYNAMIC_PRICING, "rollout": {"percentage": 150}}), 422)
    create(owner, DYNAMIC_PRICING)
    problem(owner.post(FLAGS, json=DYNAMIC_PRICING), 409)
    assert owner.get(FLAGS).json()["items"][0]["key"] == "dynamic_pricing"


def test_a_flag_change_is_versioned_and_served_at_once(owner: Api, runtime: Api) -> None:
    flag = create(owner, {**DYNAMIC_PRICING, "rollout": None})
    assert evaluate(runtime, "dynamic_pricing", {"user_id": "u"})["reason"] == "STATIC"
    changed = owner.put(
        f"/v1/admin/feature-flags/{flag['id']}",
        json={**DYNAMIC_PRICING, "is_enabled": False, "version": 1},
    )
    assert changed.status_code == 200, changed.text
    assert evaluate(runtime, "dynamic_pricing", {"user_id": "u"})["reason"] == "DISABLED"
    versions = owner.get(f"/v1/admin/feature-flags/{flag['id']}/versions").json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    by_key = runtime.get("/v1/feature-flags/key/dynamic_pricing")
    assert by_key.json()["is_enabled"] is False
    assert (
        owner.delete(
            f"/v1/admin/feature-flags/{flag['id']}", headers={"If-Match": '"2"'}
        ).status_code
        == 204
    )
    problem(runtime.post("/v1/feature-flags/dynamic_pricing/evaluate", json={}), 404)


def test_bad_evaluation_input_is_a_problem_naming_the_field(owner: Api, runtime: Api) -> None:
    create(owner, DYNAMIC_PRICING)
    body = problem(
        runtime.post(
            "/v1/feature-flags/dynamic_pricing/evaluate", json={"context": {"segment": 5}}
        ),
        422,
    )
    assert error_locs(body)
    assert all(loc[:3] == ["body", "context", "segment"] for loc in error_locs(body))
    problem(
        runtime.post(
            "/v1/feature-flags/dynamic_pricing/evaluate",
            content=b"{",
            headers={"Content-Type": "application/json"},
        ),
        400,
    )
    problem(
        runtime.post(
            "/v1/feature-flags/dynamic_pricing/evaluate",
            content=b"x",
            headers={"Content-Type": "text/plain"},
        ),
        415,
    )


# --- OFREP --------------------------------------------------------------------------------------


def test_ofrep_evaluates_one_flag(owner: Api, runtime: Api) -> None:
    create(owner, DYNAMIC_PRICING)
    found = runtime.post(
        "/ofrep/v1/evaluate/flags/dynamic_pricing",
        json={"context": {"targetingKey": "u3", "segment": "vip", "region": "Ankara"}},
    )
    assert found.status_code == 200
    body = found.json()
    assert body["key"] == "dynamic_pricing"
    assert isinstance(body["value"], bool)
    assert body["reason"] == "SPLIT"
    assert body["metadata"]["flagVersion"] == 1
    missing = runtime.post("/ofrep/v1/evaluate/flags/nope", json={"context": {}})
    assert missing.status_code == 404
    assert missing.json() == {
        "key": "nope",
        "errorCode": "FLAG_NOT_FOUND",
        "errorDetails": "no flag 'nope'",
    }
    bad = runtime.post("/ofrep/v1/evaluate/flags/dynamic_pricing", json={"context": "x"})
    assert (bad.status_code, bad.json()["errorCode"]) == (400, "INVALID_CONTEXT")
    broken = runtime.post(
        "/ofrep/v1/evaluate/flags/dynamic_pricing",
        content=b"{",
        headers={"Content-Type": "application/json"},
    )
    assert (broken.status_code, broken.json()["errorCode"]) == (400, "PARSE_ERROR")


def test_ofrep_bulk_evaluation_answers_304_while_nothing_changed(owner: Api, runtime: Api) -> None:
    flag = create(owner, DYNAMIC_PRICING)
    create(
        owner,
        {"key": "banner", "name": "Banner", "type": "STRING", "value": "hello", "is_enabled": True},
    )
    context = {"context": {"targetingKey": "u3", "segment": "vip", "region": "Ankara"}}
    first = runtime.post("/ofrep/v1/evaluate/flags", json=context)
    assert first.status_code == 200
    assert {f["key"] for f in first.json()["flags"]} == {"dynamic_pricing", "banner"}
    etag = first.headers["ETag"]
    again = runtime.post("/ofrep/v1/evaluate/flags", json=context, headers={"If-None-Match": etag})
    assert again.status_code == 304
    owner.put(
        f"/v1/admin/feature-flags/{flag['id']}", json={**DYNAMIC_PRICING, "is_enabled": False}
    )
    changed = runtime.post(
        "/ofrep/v1/evaluate/flags", json=context, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_ofrep_takes_the_key_as_x_api_key_too(owner: Api, runtime: Api) -> None:
    # OFREP's OpenAPI names two ways to authenticate: a Bearer token or an X-API-Key header.
    create(owner, DYNAMIC_PRICING)
    anonymous = Api(runtime.client, None)
    body = {"context": {"targetingKey": "u-1001", "segment": "vip", "region": "Istanbul"}}
    with_header = anonymous.post(
        "/ofrep/v1/evaluate/flags/dynamic_pricing",
        json=body,
        headers={"X-API-Key": str(runtime.key)},
    )
    assert with_header.status_code == 200, with_header.text
    assert (
        with_header.json()
        == runtime.post("/ofrep/v1/evaluate/flags/dynamic_pricing", json=body).json()
    )
    bulk = anonymous.post(
        "/ofrep/v1/evaluate/flags", json=body, headers={"X-API-Key": str(runtime.key)}
    )
    assert bulk.status_code == 200
    problem(
        anonymous.post("/ofrep/v1/evaluate/flags", json=body, headers={"X-API-Key": "oek_nope"}),
        401,
    )
    problem(anonymous.post("/ofrep/v1/evaluate/flags", json=body), 401)
    # The header is OFREP's: other run-time routes take the Bearer header only.
    problem(
        anonymous.post(
            "/v1/feature-flags/dynamic_pricing/evaluate",
            json=body,
            headers={"X-API-Key": str(runtime.key)},
        ),
        401,
    )


def test_ofrep_answers_only_reasons_the_protocol_lists(owner: Api, runtime: Api) -> None:
    # OFREP's reasons are STATIC, TARGETING_MATCH, SPLIT, DISABLED and UNKNOWN: a unit the
    # rollout's segments leave out gets the default value as a targeting decision, and says why.
    create(owner, DYNAMIC_PRICING)
    body = {"context": {"targetingKey": "u-3", "segment": "basic", "region": "Ankara"}}
    single = runtime.post("/ofrep/v1/evaluate/flags/dynamic_pricing", json=body).json()
    assert (single["value"], single["reason"]) == (False, "TARGETING_MATCH")
    assert "user_segments" in single["metadata"]["detail"]
    # The engine's own API keeps its finer reason.
    assert (
        evaluate(runtime, "dynamic_pricing", {"user_id": "u-3", "segment": "basic"})["reason"]
        == "DEFAULT"
    )
    bulk = runtime.post("/ofrep/v1/evaluate/flags", json=body).json()
    assert [f["reason"] for f in bulk["flags"]] == ["TARGETING_MATCH"]


def test_ofrep_bulk_evaluation_takes_the_event_stream_metadata(owner: Api, runtime: Api) -> None:
    # OFREP providers send back what a change event carried, as query parameters.
    create(owner, DYNAMIC_PRICING)
    body = {"context": {"targetingKey": "u-3"}}
    plain = runtime.post("/ofrep/v1/evaluate/flags", json=body)
    for query in (
        "flagConfigEtag=550e8400-e29b-41d4-a716-446655440000",
        "flagConfigEtag=abc&flagConfigLastModified=1771622898",
        "flagConfigLastModified=2026-02-20T21:28:18Z",
    ):
        found = runtime.post(f"/ofrep/v1/evaluate/flags?{query}", json=body)
        assert found.status_code == 200, found.text
        assert found.json() == plain.json()
        assert found.headers["ETag"] == plain.headers["ETag"]
    # Anything else is still refused, in OFREP's shape (it lists no 422).
    typo = runtime.post("/ofrep/v1/evaluate/flags?flagConfigEtg=abc", json=body)
    assert (typo.status_code, typo.json()["errorCode"]) == (400, "GENERAL")
    assert "flagConfigEtg" in typo.json()["errorDetails"]
    bad = runtime.post("/ofrep/v1/evaluate/flags?flagConfigLastModified=-1", json=body)
    assert bad.status_code == 400


def test_ofrep_if_none_match_compares_weakly_and_takes_a_star(owner: Api, runtime: Api) -> None:
    create(owner, DYNAMIC_PRICING)
    body = {"context": {"targetingKey": "u-3"}}
    etag = runtime.post("/ofrep/v1/evaluate/flags", json=body).headers["ETag"]
    for sent in (f"W/{etag}", f'"other", {etag}', "*"):
        again = runtime.post("/ofrep/v1/evaluate/flags", json=body, headers={"If-None-Match": sent})
        assert again.status_code == 304, sent
        assert again.headers["ETag"] == etag
    other = runtime.post("/ofrep/v1/evaluate/flags", json=body, headers={"If-None-Match": '"x"'})
    assert other.status_code == 200


def test_ofrep_refuses_a_context_it_cannot_keep_in_its_own_shape(owner: Api, runtime: Api) -> None:
    # A NUL character cannot be stored (an exposure keeps the targeting key): OFREP's 400.
    create(owner, DYNAMIC_PRICING)
    body = {"context": {"targetingKey": "u\u00003"}}
    single = runtime.post("/ofrep/v1/evaluate/flags/dynamic_pricing", json=body)
    assert single.status_code == 400
    assert single.json()["key"] == "dynamic_pricing"
    assert single.json()["errorCode"] == "INVALID_CONTEXT"
    bulk = runtime.post("/ofrep/v1/evaluate/flags", json=body)
    assert (bulk.status_code, bulk.json()["errorCode"]) == (400, "INVALID_CONTEXT")
    assert "key" not in bulk.json()
