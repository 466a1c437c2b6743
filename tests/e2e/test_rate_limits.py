"""Rate limits through the API: a key's own limit (set when it is made, changed later), the
tenant's limit in its settings, checked when saved, and the 429 a run-time caller gets."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import Api, create_tenant, platform, problem, tenant_api

KEYS = "/v1/admin/tenants/OE/api-keys"
CHEAP = "/ofrep/v1/configuration"  # a run-time route that needs no configuration


def _runtime_key(owner: Api, **fields: object) -> tuple[str, Api]:
    created = owner.post(KEYS, json={"name": "checkout", "role": "runtime", **fields})
    assert created.status_code == 201, created.text
    body = created.json()
    return body["id"], Api(owner.client, body["secret"])


def test_a_keys_rate_limit_is_set_when_made_shown_and_changed(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    key_id, _ = _runtime_key(owner, rate_limit={"per_second": 50, "burst": 100})
    listed = {k["id"]: k for k in owner.get(KEYS).json()["items"]}
    assert listed[key_id]["rate_limit"] == {"per_second": 50.0, "burst": 100}
    changed = owner.request("PATCH", f"{KEYS}/{key_id}", json={"rate_limit": {"per_second": 5}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["rate_limit"] == {"per_second": 5.0, "burst": 5}
    cleared = owner.request("PATCH", f"{KEYS}/{key_id}", json={"rate_limit": None})
    assert cleared.json()["rate_limit"] is None
    owners = [k for k in owner.get(KEYS).json()["items"] if k["id"] != key_id]
    assert all(k["rate_limit"] is None for k in owners)


def test_a_bad_rate_limit_is_a_422_naming_the_field(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    body = problem(
        owner.post(KEYS, json={"name": "x", "role": "runtime", "rate_limit": {"per_second": 0}}),
        422,
    )
    assert body["errors"][0]["loc"] == ["body", "rate_limit", "per_second"]
    key_id, _ = _runtime_key(owner)
    bad = owner.request("PATCH", f"{KEYS}/{key_id}", json={"rate_limit": {"burst": 3}})
    assert problem(bad, 422)["errors"][0]["loc"] == ["body", "rate_limit", "per_second"]
    missing = owner.request(
        "PATCH", f"{KEYS}/00000000-0000-0000-0000-000000000000", json={"rate_limit": None}
    )
    problem(missing, 404)


def test_a_key_over_its_limit_gets_429_and_the_tenants_other_keys_do_not(
    client: TestClient,
) -> None:
    owner = tenant_api(client, "OE")
    key_id, limited = _runtime_key(owner, rate_limit={"per_second": 0.1, "burst": 2})
    _, other = _runtime_key(owner)
    assert [limited.get(CHEAP).status_code for _ in range(2)] == [200, 200]
    refused = limited.get(CHEAP)
    body = problem(refused, 429)
    assert body["type"] == "urn:offerengine:problem:rate-limited"
    assert int(refused.headers["retry-after"]) == 10
    assert refused.headers["ratelimit-policy"] == '"key";q=2;w=20'
    assert refused.headers["ratelimit"] == '"key";r=0;t=10'
    assert [other.get(CHEAP).status_code for _ in range(5)] == [200] * 5
    # Lifting the key's limit takes effect at once.
    owner.request("PATCH", f"{KEYS}/{key_id}", json={"rate_limit": None})
    assert limited.get(CHEAP).status_code == 200


def test_the_tenants_limit_is_checked_when_saved_and_shared_by_its_keys(
    client: TestClient,
) -> None:
    tenant = create_tenant(client, "OE")
    fields = {k: tenant[k] for k in ("name", "kind", "base_currency", "timezone")}
    bad = platform(client).put(
        "/v1/admin/tenants/OE", json={**fields, "settings": {"rate_limit": {"per_second": -1}}}
    )
    assert problem(bad, 422)["errors"][0]["loc"][:4] == [
        "body",
        "settings",
        "rate_limit",
        "per_second",
    ]
    saved = platform(client).put(
        "/v1/admin/tenants/OE",
        json={**fields, "settings": {"rate_limit": {"per_second": 0.1, "burst": 3}}},
    )
    assert saved.status_code == 200, saved.text
    owner = tenant_api(client, "XX")  # another tenant: not limited by OE's settings
    _, one = _runtime_key(Api(client, _owner_secret(client)))
    _, two = _runtime_key(Api(client, _owner_secret(client)))
    statuses = [k.get(CHEAP).status_code for k in (one, two, one, two)]
    assert statuses == [200, 200, 200, 429]
    assert problem(two.get(CHEAP), 429)
    assert owner.get("/v1/admin/tenants/XX").status_code == 200


def test_replacing_the_tenants_settings_keeps_its_keys_limits(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    key_id, _ = _runtime_key(owner, rate_limit={"per_second": 7, "burst": 7})
    tenant = platform(client).get("/v1/admin/tenants/OE").json()
    fields = {k: tenant[k] for k in ("name", "kind", "base_currency", "timezone")}
    replaced = platform(client).put("/v1/admin/tenants/OE", json={**fields, "settings": {"a": 1}})
    assert replaced.status_code == 200, replaced.text
    listed = {k["id"]: k for k in owner.get(KEYS).json()["items"]}
    assert listed[key_id]["rate_limit"] == {"per_second": 7.0, "burst": 7}


def _owner_secret(client: TestClient) -> str:
    made = platform(client).post(KEYS, json={"name": "owner", "role": "owner"})
    assert made.status_code == 201, made.text
    return str(made.json()["secret"])
