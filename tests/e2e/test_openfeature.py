"""The OpenFeature provider, driven by the openfeature-sdk client, in process and over OFREP."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openfeature import api as openfeature
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from offerengine.openfeature import OfferEngineProvider
from offerengine.snapshots.core import Snapshot
from tests.helpers import Api, create_key, tenant_api

FLAGS = [
    {
        "key": "dynamic_pricing",
        "name": "Dynamic Pricing",
        "type": "BOOLEAN",
        "value": True,
        "is_enabled": True,
        "rollout": {"percentage": 50.0, "user_segments": ["premium", "vip"]},
    },
    {"key": "banner", "name": "Banner", "type": "STRING", "value": "Hi", "is_enabled": True},
    {"key": "max_items", "name": "Max items", "type": "NUMBER", "value": 12, "is_enabled": True},
    {"key": "multiplier", "name": "Multiplier", "type": "NUMBER", "value": 1.5, "is_enabled": True},
    {
        "key": "layout",
        "name": "Layout",
        "type": "JSON",
        "value": {"columns": 3},
        "is_enabled": True,
    },
]


@pytest.fixture
def setup(client: TestClient) -> tuple[Api, str]:
    owner = tenant_api(client, "MK", kind="marketplace", base_currency="TRY")
    for flag in FLAGS:
        assert owner.post("/v1/admin/tenants/MK/feature-flags", json=flag).status_code == 201
    return owner, create_key(client, "MK", "runtime")


def remote(client: TestClient, key: str) -> OfferEngineProvider:
    def post(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        response = client.post(url, content=body, headers=dict(headers))
        return response.status_code, response.content

    return OfferEngineProvider.remote("http://testserver", key, post=post)


def in_process(client: TestClient, tenant_id: uuid.UUID) -> OfferEngineProvider:
    store = client.app.state.context.snapshots  # type: ignore[attr-defined]

    def source() -> Snapshot:
        snapshot = store.peek(tenant_id)
        assert snapshot is not None
        return snapshot

    return OfferEngineProvider.in_process(source)


@pytest.mark.parametrize("mode", ["remote", "in_process"])
def test_the_sdk_client_reads_every_type_of_flag(
    client: TestClient, setup: tuple[Api, str], mode: str
) -> None:
    owner, key = setup
    tenant_id = uuid.UUID(owner.get("/v1/admin/tenants/MK").json()["id"])
    # Warm the snapshot through the API, as a running engine would have it.
    runtime = Api(client, key)
    assert runtime.get("/v1/feature-flags/key/banner").status_code == 200
    provider = remote(client, key) if mode == "remote" else in_process(client, tenant_id)
    openfeature.set_provider(provider, domain=mode)
    sdk = openfeature.get_client(domain=mode)
    vip = EvaluationContext("u-3", {"segment": "vip"})

    details = sdk.get_boolean_details("dynamic_pricing", False, vip)
    server = runtime.post(
        "/v1/feature-flags/dynamic_pricing/evaluate",
        json={"context": {"user_id": "u-3", "segment": "vip"}},
    ).json()
    assert details.value is server["value"]
    assert details.reason == Reason.SPLIT
    assert details.flag_metadata["flagVersion"] == 1
    basic = sdk.get_boolean_details(
        "dynamic_pricing", True, EvaluationContext("u-3", {"segment": "basic"})
    )
    # In process, the engine's own reason; over OFREP, whose reasons have no DEFAULT, the
    # targeting decision it is.
    expected = Reason.DEFAULT if mode == "in_process" else Reason.TARGETING_MATCH
    assert (basic.value, basic.reason) == (False, expected)

    assert sdk.get_string_value("banner", "", vip) == "Hi"
    assert sdk.get_integer_value("max_items", 0, vip) == 12
    assert sdk.get_float_value("multiplier", 0.0, vip) == 1.5
    assert sdk.get_object_value("layout", {}, vip) == {"columns": 3}

    missing = sdk.get_boolean_details("nope", True, vip)
    assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    mismatch = sdk.get_integer_details("banner", 7, vip)
    assert (mismatch.value, mismatch.error_code) == (7, ErrorCode.TYPE_MISMATCH)


def test_a_remote_provider_with_a_bad_key_serves_defaults(client: TestClient, setup: Any) -> None:
    openfeature.set_provider(remote(client, "oek_not-a-key"), domain="bad")
    details = openfeature.get_client(domain="bad").get_boolean_details("dynamic_pricing", True)
    assert details.value is True
    assert details.error_code == ErrorCode.GENERAL
