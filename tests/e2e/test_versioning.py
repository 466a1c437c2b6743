from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import SEAT, Api, create_key, problem, tenant_api

PRODUCTS = "/v1/admin/tenants/OE/products"


@pytest.fixture
def owner(client: TestClient) -> Api:
    return tenant_api(client, "OE")


def edit(api: Api, product_id: str, **fields: Any) -> dict[str, Any]:
    response = api.put(f"/v1/admin/products/{product_id}", json=SEAT | fields)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_every_change_is_a_version_with_what_changed_and_who(owner: Api) -> None:
    product = owner.post(PRODUCTS, json=SEAT).json()
    edit(owner, product["id"], base_price="35.00")
    edit(owner, product["id"], base_price="35.00", name="Extra legroom")
    history = owner.get(f"/v1/admin/products/{product['id']}/versions").json()
    assert history["current_version"] == 3
    assert [v["action"] for v in history["items"]] == ["create", "update", "update"]
    assert history["items"][1]["changes"] == [
        {"path": "base_price", "before": "30.00", "after": "35.00"}
    ]
    assert history["items"][2]["changes"] == [
        {"path": "name", "before": "Extra Legroom Seat", "after": "Extra legroom"}
    ]
    assert history["items"][0]["actor"]["name"] == "test owner"
    v2 = owner.get(f"/v1/admin/products/{product['id']}/versions/2").json()
    assert (v2["data"]["base_price"], v2["data"]["name"]) == ("35.00", "Extra Legroom Seat")
    problem(owner.get(f"/v1/admin/products/{product['id']}/versions/9"), 404)


def test_rollback_makes_a_new_version_equal_to_the_old_one(owner: Api) -> None:
    product = owner.post(PRODUCTS, json=SEAT).json()
    edit(owner, product["id"], base_price="35.00", metadata={"legroom_inches": 36})
    rolled = owner.post(f"/v1/admin/products/{product['id']}/rollback", json={"version": 1})
    assert rolled.status_code == 200, rolled.text
    assert (rolled.json()["version"], rolled.json()["base_price"]) == (3, "30.00")
    assert rolled.json()["metadata"] == {"legroom_inches": 35}
    history = owner.get(f"/v1/admin/products/{product['id']}/versions").json()["items"]
    assert history[-1]["action"] == "rollback"


def test_a_rollback_against_a_stale_version_is_refused(owner: Api) -> None:
    product = owner.post(PRODUCTS, json=SEAT).json()
    edit(owner, product["id"], base_price="35.00")
    stale = owner.post(
        f"/v1/admin/products/{product['id']}/rollback",
        json={"version": 1},
        headers={"If-Match": '"1"'},
    )
    problem(stale, 409)


def test_a_deleted_product_keeps_its_history_and_a_rollback_brings_it_back(owner: Api) -> None:
    product = owner.post(PRODUCTS, json=SEAT).json()
    edit(owner, product["id"], base_price="35.00")
    assert owner.delete(f"/v1/admin/products/{product['id']}").status_code == 204
    history = owner.get(f"/v1/admin/products/{product['id']}/versions").json()
    assert history["current_version"] is None
    assert [v["action"] for v in history["items"]] == ["create", "update", "delete"]
    problem(owner.post(f"/v1/admin/products/{product['id']}/rollback", json={"version": 3}), 422)
    restored = owner.post(f"/v1/admin/products/{product['id']}/rollback", json={"version": 2})
    assert restored.status_code == 200, restored.text
    assert (restored.json()["id"], restored.json()["version"], restored.json()["base_price"]) == (
        product["id"],
        4,
        "35.00",
    )
    assert owner.get(f"/v1/admin/products/{product['id']}").status_code == 200


def test_restoring_a_deleted_product_whose_code_was_reused_is_a_conflict(owner: Api) -> None:
    product = owner.post(PRODUCTS, json=SEAT).json()
    owner.delete(f"/v1/admin/products/{product['id']}")
    owner.post(PRODUCTS, json=SEAT)
    problem(owner.post(f"/v1/admin/products/{product['id']}/rollback", json={"version": 1}), 409)


def test_the_audit_log_says_who_did_what_with_before_and_after(
    client: TestClient, owner: Api
) -> None:
    editor = Api(client, create_key(client, "OE", "editor"))
    product = editor.post(PRODUCTS, json=SEAT).json()
    edit(editor, product["id"], base_price="35.00")
    entries = owner.get("/v1/admin/tenants/OE/audit", params={"object_id": product["id"]}).json()[
        "items"
    ]
    assert [e["action"] for e in entries] == ["product.update", "product.create"]  # newest first
    update = entries[0]
    assert (update["before"]["base_price"], update["after"]["base_price"]) == ("30.00", "35.00")
    assert update["actor"]["name"] == "test editor"
    assert update["request_id"]
    by_actor = owner.get(
        "/v1/admin/tenants/OE/audit", params={"actor": update["actor"]["id"]}
    ).json()["items"]
    assert {e["action"] for e in by_actor} == {"product.create", "product.update"}
    later = owner.get("/v1/admin/tenants/OE/audit", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert later["items"] == []


def test_the_audit_log_pages_newest_first(owner: Api) -> None:
    for i in range(5):
        owner.post(PRODUCTS, json=SEAT | {"product_code": f"S{i}"})
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "object_type": "product"} | ({"cursor": cursor} if cursor else {})
        page = owner.get("/v1/admin/tenants/OE/audit", params=params).json()
        seen += [(e["at"], e["id"]) for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize("value", ["0.5", "1700000000", "2026-01-01T00:00:00", "yesterday"])
def test_audit_time_filters_take_iso_8601_with_a_zone_only(owner: Api, value: str) -> None:
    body = problem(owner.get("/v1/admin/tenants/OE/audit", params={"until": value}), 422)
    assert body["errors"][0]["loc"] == ["query", "until"]
