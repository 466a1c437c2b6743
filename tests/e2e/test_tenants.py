from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import Api, create_key, create_tenant, error_locs, platform, problem


def test_the_platform_key_creates_a_tenant_and_reads_it_by_code_or_id(client: TestClient) -> None:
    created = create_tenant(client, "OE", name="OfferEngine Air", timezone="America/New_York")
    assert created["code"] == "OE"
    assert created["base_currency"] == "USD"
    assert created["status"] == "active"
    by_code = platform(client).get("/v1/admin/tenants/oe")  # codes match case-insensitively
    by_id = platform(client).get(f"/v1/admin/tenants/{created['id']}")
    assert by_code.json()["id"] == by_id.json()["id"] == created["id"]
    assert by_code.headers["etag"] == '"1"'


def test_tenant_fields_are_validated_and_the_error_names_each_field(client: TestClient) -> None:
    response = platform(client).post(
        "/v1/admin/tenants",
        json={
            "code": "toolongcode1",
            "name": "",
            "kind": "bank",
            "base_currency": "XYZ",
            "timezone": "Mars/Base",
        },
    )
    body = problem(response, 422)
    assert {tuple(loc) for loc in error_locs(body)} >= {
        ("body", "code"),
        ("body", "name"),
        ("body", "kind"),
        ("body", "base_currency"),
        ("body", "timezone"),
    }


def test_a_duplicate_code_is_a_conflict(client: TestClient) -> None:
    create_tenant(client, "OE")
    response = platform(client).post(
        "/v1/admin/tenants",
        json={"code": "OE", "name": "Again", "kind": "airline", "base_currency": "USD"},
    )
    assert error_locs(problem(response, 409)) == [["body", "code"]]


def test_only_the_platform_key_lists_creates_and_changes_tenants(client: TestClient) -> None:
    create_tenant(client, "OE")
    owner = Api(client, create_key(client, "OE", "owner"))
    problem(owner.get("/v1/admin/tenants"), 403)
    problem(
        owner.post(
            "/v1/admin/tenants",
            json={"code": "ZZ", "name": "Z", "kind": "retail", "base_currency": "EUR"},
        ),
        403,
    )
    problem(
        owner.put(
            "/v1/admin/tenants/OE", json={"name": "Mine", "kind": "airline", "base_currency": "USD"}
        ),
        403,
    )
    problem(owner.delete("/v1/admin/tenants/OE"), 403)
    # A tenant's own key may read its tenant.
    assert owner.get("/v1/admin/tenants/OE").json()["code"] == "OE"


def test_updating_a_tenant_with_a_stale_version_is_a_conflict(client: TestClient) -> None:
    create_tenant(client, "OE")
    body = {"name": "OfferEngine Air", "kind": "airline", "base_currency": "USD", "timezone": "UTC"}
    first = platform(client).put("/v1/admin/tenants/OE", json=body, headers={"If-Match": '"1"'})
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 2
    stale = platform(client).put(
        "/v1/admin/tenants/OE", json=body | {"name": "Late"}, headers={"If-Match": '"1"'}
    )
    assert problem(stale, 409)["current_version"] == 2


def test_suspending_a_tenant_stops_its_keys_and_resuming_restores_them(client: TestClient) -> None:
    create_tenant(client, "OE")
    viewer = Api(client, create_key(client, "OE", "viewer"))
    assert viewer.get("/v1/admin/tenants/OE/products").status_code == 200
    body = {"name": "Tenant OE", "kind": "airline", "base_currency": "USD", "status": "suspended"}
    assert platform(client).put("/v1/admin/tenants/OE", json=body).status_code == 200
    assert "suspended" in problem(viewer.get("/v1/admin/tenants/OE/products"), 403)["detail"]
    assert (
        platform(client).put("/v1/admin/tenants/OE", json=body | {"status": "active"}).status_code
        == 200
    )
    assert viewer.get("/v1/admin/tenants/OE/products").status_code == 200


def test_deleting_a_tenant_removes_its_data_and_keys_but_keeps_the_audit_record(
    client: TestClient,
) -> None:
    tenant = create_tenant(client, "OE")
    owner = Api(client, create_key(client, "OE", "owner"))
    assert (
        owner.post(
            "/v1/admin/tenants/OE/products",
            json={
                "product_type": "BAG",
                "product_code": "BAG-1",
                "name": "Bag",
                "base_price": "10",
            },
        ).status_code
        == 201
    )
    assert platform(client).delete("/v1/admin/tenants/OE").status_code == 204
    problem(platform(client).get("/v1/admin/tenants/OE"), 404)
    problem(owner.get("/v1/admin/tenants/OE/products"), 401)
    audit = platform(client).get("/v1/admin/audit", params={"action": "tenant.delete"}).json()
    assert [e["object_id"] for e in audit["items"]] == [tenant["id"]]
    # The code is free again.
    create_tenant(client, "OE")


def test_tenants_are_listed_by_code(client: TestClient) -> None:
    for code in ("MKT", "OE", "AA"):
        create_tenant(client, code)
    assert [t["code"] for t in platform(client).get("/v1/admin/tenants").json()] == [
        "AA",
        "MKT",
        "OE",
    ]
