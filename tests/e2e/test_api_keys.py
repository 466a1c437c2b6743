from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import SEAT, Api, create_key, create_tenant, platform, problem, tenant_api


def test_a_created_key_shows_its_secret_once_and_lists_without_it(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    created = owner.post(
        "/v1/admin/tenants/OE/api-keys", json={"name": "checkout", "role": "runtime"}
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("oek_")
    assert len(secret) > 40
    listed = owner.get("/v1/admin/tenants/OE/api-keys").json()["items"]
    assert {k["name"] for k in listed} == {"test owner", "checkout"}
    assert all("secret" not in k for k in listed)
    assert secret.startswith(next(k["prefix"] for k in listed if k["name"] == "checkout"))


def test_requests_without_a_key_or_with_an_unknown_one_are_401(client: TestClient) -> None:
    create_tenant(client, "OE")
    missing = Api(client, None).get("/v1/admin/tenants/OE/products")
    assert problem(missing, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    problem(Api(client, "oek_not-a-key").get("/v1/admin/tenants/OE/products"), 401)
    problem(
        client.get("/v1/admin/tenants/OE", headers={"Authorization": "Basic dXNlcjpwdw=="}), 401
    )


def test_a_revoked_key_is_refused_at_once(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    created = owner.post(
        "/v1/admin/tenants/OE/api-keys", json={"name": "temp", "role": "viewer"}
    ).json()
    viewer = Api(client, created["secret"])
    assert (
        viewer.get("/v1/admin/tenants/OE/products").status_code == 200
    )  # now cached in the worker
    assert owner.delete(f"/v1/admin/tenants/OE/api-keys/{created['id']}").status_code == 204
    problem(viewer.get("/v1/admin/tenants/OE/products"), 401)
    listed = owner.get("/v1/admin/tenants/OE/api-keys", params={"include_revoked": True}).json()[
        "items"
    ]
    assert next(k for k in listed if k["id"] == created["id"])["revoked_at"] is not None
    assert created["id"] not in {
        k["id"] for k in owner.get("/v1/admin/tenants/OE/api-keys").json()["items"]
    }


def test_each_role_may_do_what_it_is_for_and_nothing_more(client: TestClient) -> None:
    create_tenant(client, "OE")
    keys = {
        role: Api(client, create_key(client, "OE", role))
        for role in ("owner", "editor", "viewer", "runtime")
    }
    products = "/v1/admin/tenants/OE/products"
    created = keys["editor"].post(products, json=SEAT)
    assert created.status_code == 201
    # viewer: reads configuration, writes nothing
    assert keys["viewer"].get(products).status_code == 200
    problem(keys["viewer"].post(products, json=SEAT | {"product_code": "X"}), 403)
    # runtime: run-time endpoints only
    assert keys["runtime"].get("/v1/catalog/products").status_code == 200
    problem(keys["runtime"].get(products), 403)
    # editor: configuration, but not keys
    problem(keys["editor"].get("/v1/admin/tenants/OE/api-keys"), 403)
    problem(
        keys["editor"].post("/v1/admin/tenants/OE/api-keys", json={"name": "x", "role": "owner"}),
        403,
    )
    # owner: keys, configuration and run time
    assert keys["owner"].get("/v1/admin/tenants/OE/api-keys").status_code == 200
    assert keys["owner"].get("/v1/catalog/products").status_code == 200
    # platform keys have no tenant, so they cannot make run-time calls
    assert "tenant key" in problem(platform(client).get("/v1/catalog/products"), 403)["detail"]


def test_a_key_cannot_be_created_with_the_platform_role(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    problem(
        owner.post("/v1/admin/tenants/OE/api-keys", json={"name": "x", "role": "platform"}), 422
    )


def test_every_use_of_the_platform_key_is_audited(client: TestClient) -> None:
    create_tenant(client, "OE")
    platform(client).get("/v1/admin/tenants/OE")
    platform(client).get("/v1/admin/tenants/NOPE")
    entries = (
        platform(client)
        .get("/v1/admin/audit", params={"action": "platform.access"})
        .json()["items"]
    )
    details = [e["detail"] for e in entries]
    assert "GET /v1/admin/tenants/OE" in details
    assert "GET /v1/admin/tenants/NOPE" in details  # failed requests too
    assert all(e["actor"]["kind"] == "platform_env" for e in entries)
