"""Tenant isolation, checked on every route, generated from the app's route table.

A key of tenant B must not learn that tenant A's objects exist, let alone read or change them: on
every route with a path parameter, for every method and every role, B's answer about A's object is
exactly its answer about an object that does not exist (404 for a role allowed to use the route), and
A's data is unchanged afterwards. The route table is read from the OpenAPI document, so a new route is covered the day it is added,
and one with a path parameter this test cannot fill fails it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import (
    FARE,
    SEAT,
    Api,
    add_flight,
    create_key,
    create_tenant,
    passengers,
    platform,
    search,
)

ROLES = ("owner", "editor", "viewer", "runtime")
PARAM = re.compile(r"{([^}]+)}")


def _tenant_a(client: TestClient) -> dict[str, str]:
    create_tenant(client, "AAA")
    owner = Api(client, create_key(client, "AAA", "owner"))
    product = owner.post(
        "/v1/admin/tenants/AAA/products", json=SEAT | {"product_code": "A-ONLY"}
    ).json()
    owner.put(
        f"/v1/admin/products/{product['id']}", json=SEAT | {"product_code": "A-ONLY", "name": "v2"}
    )
    owner.post("/v1/admin/tenants/AAA/airports", json={"iata_codes": ["JFK"]})
    rule = owner.post(
        "/v1/admin/tenants/AAA/pricing-rules",
        json={
            "rule_name": "A only",
            "rule_type": "CUSTOM",
            "adjustments": {"type": "MULTIPLIER", "value": 1.1},
        },
    ).json()
    flag = owner.post(
        "/v1/admin/tenants/AAA/feature-flags",
        json={"key": "a-only", "name": "A only", "type": "BOOLEAN", "value": True},
    ).json()
    experiment = owner.post(
        "/v1/admin/tenants/AAA/experiments",
        json={
            "key": "a-only",
            "name": "A only",
            "variants": [{"key": "control"}, {"key": "b"}],
            "primary_metric": {"kind": "conversion", "event": "purchase"},
        },
    ).json()
    owner.post(f"/v1/admin/experiments/{experiment['id']}/start")
    owner.post("/v1/admin/tenants/AAA/products", json=FARE)
    flight = add_flight(owner, "AAA")
    inventory_rule = owner.post(
        "/v1/admin/tenants/AAA/inventory-rules", json={"resource_type": "SEAT"}
    ).json()
    fare_families = owner.post(
        "/v1/admin/tenants/AAA/fare-family-sets",
        json={"cabin": "ECONOMY", "families": [{"code": "Y", "name": "Y", "multiplier": "1"}]},
    ).json()
    price_points = owner.post(
        "/v1/admin/tenants/AAA/price-point-policies",
        json={"cabin": "ECONOMY", "multipliers": ["1", "1.1"], "max_step": "0.1"},
    ).json()
    bundle = owner.post(
        "/v1/admin/tenants/AAA/bundles",
        json={
            "bundle_name": "A only",
            "bundle_type": "COMFORT",
            "product_types": [{"type": "FLIGHT", "required": True}, {"type": "SEAT"}],
        },
    ).json()
    offer_rules = owner.put("/v1/admin/tenants/AAA/offer-rules", json={"max_offers": 3}).json()
    fare_settings = owner.put("/v1/admin/tenants/AAA/fare-settings", json={}).json()
    connection_rules = owner.put("/v1/admin/tenants/AAA/connection-rules", json={}).json()
    decisioning = _decisioning(owner)
    commerce = _commerce(owner, Api(client, create_key(client, "AAA", "runtime")))
    offer = search(owner)["offers"][0]
    order = owner.post(
        "/v1/orders",
        json={"offer_id": offer["offer_id"], "passengers": passengers()},
        headers={"Idempotency-Key": "a-only"},
    ).json()
    key_id = owner.get("/v1/admin/tenants/AAA/api-keys").json()["items"][0]["id"]
    runtime = create_key(client, "AAA", "runtime")
    job = owner.post(
        "/v1/admin/tenants/AAA/import-jobs/products",
        files={"file": ("a.csv", b"product_type,product_code,name,base_price\nBAG,A-JOB,A,1\n")},
    )
    assert job.status_code == 202, job.text
    return {
        "tenant": "AAA",
        "kind": "products",  # bulk import and export
        "job_id": job.json()["id"],
        "products": product["id"],
        "pricing-rules": rule["id"],
        "rules": rule["id"],  # the generic view of every rule kind
        "feature-flags": flag["id"],
        "experiments": experiment["id"],
        "key": "a-only",  # the flag's and the experiment's key
        "key_id": key_id,
        "runtime": runtime,
        "product_code": "A-ONLY",
        "iata": "JFK",
        "flights": flight["id"],
        "inventory-rules": inventory_rule["id"],
        "fare-family-sets": fare_families["id"],
        "price-point-policies": price_points["id"],
        "bundles": bundle["id"],
        "offer-rules": offer_rules["id"],
        "fare-settings": fare_settings["id"],
        "connection-rules": connection_rules["id"],
        "offer_id": offer["offer_id"],
        "orders": order["id"],
        **decisioning,
        **commerce,
        **_learning(owner, Api(client, runtime), decisioning),
        **_loyalty(owner),
        "delivery_id": _failed_webhook_delivery(client),
        # Template sets are the product's, shared by every tenant: no tenant's object to find.
        # Both sides name one that does not exist; applying to A is checked below.
        "template_set": "no-such-set",
    }


def _loyalty(owner: Api) -> dict[str, str]:
    """A's loyalty programme and a member with points."""
    base = "/v1/admin/tenants/AAA/loyalty/programmes"
    programme = owner.post(
        base,
        json={
            "code": "AONLY",
            "name": "A",
            "currency": "USD",
            "tiers": [{"code": "T", "name": "T"}],
        },
    )
    member = owner.post(f"{base}/AONLY/members", json={"customer_id": "a-member", "tier": "T"})
    points = owner.post(
        f"{base}/AONLY/members/a-member/adjust", json={"points": 5, "reason": "a", "key": "a"}
    )
    for response in (programme, member, points):
        assert response.status_code == 201, response.text
    return {"programmes": programme.json()["id"], "code": "AONLY", "customer_id": "a-member"}


def _failed_webhook_delivery(client: TestClient) -> str:
    """A webhook delivery of A's that failed (so that no deliverer touches it meanwhile)."""
    from offerengine.clock import utcnow
    from offerengine.db.session import write_transaction
    from offerengine.tenants import service as tenants
    from offerengine.webhooks import service as webhooks

    context = client.app.state.context  # type: ignore[attr-defined]

    async def made() -> str:
        async with write_transaction(context) as session:
            tenant = await tenants.find(session, "AAA")
            assert tenant is not None
            delivery = webhooks.enqueue(
                session,
                tenant_id=tenant.id,
                event_type="low_inventory",
                url="https://hooks.example.com/a",
                payload={"type": "low_inventory"},
                now=utcnow(),
                attempt_limit=1,
            )
            delivery.status = "failed"
            await session.flush()
            return str(delivery.id)

    return str(client.portal.call(made))  # type: ignore[union-attr]


def _learning(owner: Api, runtime: Api, decisioning: dict[str, str]) -> dict[str, str]:
    """A's profile, segments, promotions and a bandit's model version."""
    assert runtime.put("/v1/profiles/a-profile", json={"attributes": {"x": 1}}).status_code == 200
    segments = owner.put(
        "/v1/admin/tenants/AAA/segments",
        json={"segments": [{"name": "seg", "learned": {"features": ["views"], "clusters": 2}}]},
    )
    promotions = owner.put(
        "/v1/admin/tenants/AAA/promotions",
        json={
            "promotions": [
                {
                    "code": "A-ONLY", "name": "A", "currency": "USD", "discount": "1",
                    "margin": "2", "budget": "10", "products": [{"code": "P", "stock": 1}],
                    "features": ["views"],
                }
            ]
        },
    )  # fmt: skip
    bandit = owner.post(
        "/v1/admin/tenants/AAA/decisioning/activities",
        json={
            "name": "A bandit",
            "status": "approved",
            "placement_id": decisioning["placements"],
            "collection_id": decisioning["collections"],
            "fallback_offer_id": decisioning["fallback-offers"],
            "ranking": {"method": "model", "contextual": {"features": ["profile.x"]}},
        },
    )
    campaign = owner.post(
        "/v1/admin/tenants/AAA/campaigns",
        json={
            "code": "A-ONLY", "name": "A", "promotions": ["A-ONLY"], "channel": "email",
            "budget": "10", "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2036-01-01T00:00:00Z", "holdout_share": 0.2,
        },
    )  # fmt: skip
    for response in (segments, promotions, bandit, campaign):
        assert response.status_code in (200, 201), response.text
    trained = owner.post("/v1/admin/tenants/AAA/models/train")
    assert trained.status_code == 200, trained.text
    model = owner.get("/v1/admin/tenants/AAA/models").json()["items"][0]
    return {
        "profile_id": "a-profile",
        "name": "seg",
        "segments": segments.json()["id"],
        "promotions": promotions.json()["id"],
        "models": model["id"],
        "campaigns": campaign.json()["id"],
    }


def _commerce(owner: Api, runtime: Api) -> dict[str, str]:
    base = "/v1/admin/tenants/AAA"
    rate = owner.post(
        f"{base}/commission-rates", json={"commission_type": "PERCENTAGE", "rate": "10"}
    )
    fee = owner.post(
        f"{base}/fee-rules",
        json={"name": "A only", "type": "DELIVERY_FEE", "configuration": {"base_fee": "5.00"}},
    )
    coupon = owner.post(f"{base}/coupons", json={"code": "AONLY", "type": "FREE_DELIVERY"})
    quote = runtime.post(
        "/v1/quote",
        json={
            "items": [{"product_id": "p", "quantity": 1, "unit_price": "10.00"}],
            "delivery_address": {"city": "Boston", "country": "US"},
        },
    )
    for response in (rate, fee, coupon, quote):
        assert response.status_code in (200, 201), response.text
    return {
        "commission-rates": rate.json()["id"],
        "fee-rules": fee.json()["id"],
        "coupons": coupon.json()["id"],
        "quotes": quote.json()["data"]["quote_id"],
    }


COMMERCE = ("commission-rates", "fee-rules", "coupons")
DECISIONING = (
    "placements",
    "offers",
    "fallback-offers",
    "collections",
    "ranking-formulas",
    "activities",
)


def _decisioning(owner: Api) -> dict[str, str]:
    base = "/v1/admin/tenants/AAA/decisioning"

    def make(kind: str, body: dict[str, Any]) -> str:
        response = owner.post(f"{base}/{kind}", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    placement = make("placements", {"name": "A", "channel": "web", "content_type": "text"})
    rep = [{"placement_id": placement, "content": {"t": "A"}}]
    made = {
        "placements": placement,
        "offers": make("offers", {"name": "A", "tags": ["a"], "representations": rep}),
        "fallback-offers": make("fallback-offers", {"name": "A", "representations": rep}),
        "collections": make("collections", {"name": "A", "tags": ["a"]}),
        "ranking-formulas": make("ranking-formulas", {"name": "A", "expression": "1"}),
    }
    made["activities"] = make(
        "activities",
        {
            "name": "A",
            "status": "approved",
            "placement_id": placement,
            "collection_id": made["collections"],
            "fallback_offer_id": made["fallback-offers"],
        },
    )
    return made


def _fill(path: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "id":  # named by the collection it follows: /v1/admin/products/{id}
            collection = path[: match.start()].rstrip("/").rsplit("/", 1)[-1]
            if collection in values:
                return values[collection]
        if name == "version":
            return "1"
        if name in values:
            return values[name]
        raise AssertionError(f"teach test_isolation how to fill {{{name}}} in {path}")

    return PARAM.sub(value, path)


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path template) with a path parameter, from the app's OpenAPI route table."""
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if PARAM.search(path)
        for method in sorted(operations)
    ]


def _state(client: TestClient, a: dict[str, str]) -> Any:
    admin = platform(client)
    return (
        admin.get(f"/v1/admin/products/{a['products']}").json(),
        admin.get(f"/v1/admin/pricing-rules/{a['pricing-rules']}").json(),
        admin.get("/v1/admin/tenants/AAA/api-keys").json(),
        admin.get("/v1/admin/tenants/AAA/airports").json(),
        admin.get("/v1/admin/tenants/AAA").json(),
        admin.get(f"/v1/admin/feature-flags/{a['feature-flags']}").json(),
        admin.get(f"/v1/admin/experiments/{a['experiments']}").json(),
        admin.get(f"/v1/experiments/{a['experiments']}/results").json()["sample_ratio"],
        admin.get(f"/v1/admin/bundles/{a['bundles']}").json(),
        admin.get(f"/v1/admin/inventory-rules/{a['inventory-rules']}").json(),
        admin.get(f"/v1/admin/fare-family-sets/{a['fare-family-sets']}").json(),
        admin.get(f"/v1/admin/price-point-policies/{a['price-point-policies']}").json(),
        admin.get(f"/v1/admin/flights/{a['flights']}/revenue").json(),
        admin.get("/v1/admin/tenants/AAA/offer-rules").json(),
        admin.get("/v1/admin/tenants/AAA/connection-rules").json(),
        admin.get(f"/v1/admin/flights/{a['flights']}").json(),
        Api(admin.client, a["runtime"]).get(f"/v1/orders/{a['orders']}").json()["status"],
        Api(admin.client, a["runtime"]).get(f"/v1/offers/{a['offer_id']}").status_code,
        [admin.get(f"/v1/admin/decisioning/{kind}/{a[kind]}").json() for kind in DECISIONING],
        [admin.get(f"/v1/admin/{kind}/{a[kind]}").json() for kind in COMMERCE],
        Api(admin.client, a["runtime"]).get(f"/v1/quotes/{a['quotes']}").json()["data"]["status"],
        Api(admin.client, a["runtime"]).get("/v1/profiles/a-profile").json()["attributes"],
        admin.get("/v1/admin/tenants/AAA/segments").json(),
        admin.get("/v1/admin/tenants/AAA/promotions").json(),
        admin.get(f"/v1/admin/campaigns/{a['campaigns']}").json(),
        admin.get(f"/v1/admin/campaigns/{a['campaigns']}/grants").json(),
        admin.get(f"/v1/admin/models/{a['models']}").json(),
        admin.get("/v1/admin/tenants/AAA/webhooks/deliveries").json(),
        admin.get("/v1/admin/tenants/AAA/webhooks/secret").json(),
        admin.get("/v1/admin/tenants/AAA/loyalty/programmes/AONLY/members/a-member/ledger").json(),
        admin.get(f"/v1/admin/tenants/AAA/import-jobs/{a['job_id']}").json(),
        admin.get("/v1/admin/tenants/AAA/exports/products").text,
    )


def test_no_key_of_another_tenant_can_see_or_touch_a_tenants_objects_on_any_route(
    client: TestClient,
) -> None:
    a = _tenant_a(client)
    missing = {
        "tenant": "NOSUCH",
        "products": str(uuid.uuid4()),
        "pricing-rules": str(uuid.uuid4()),
        "rules": str(uuid.uuid4()),
        "feature-flags": str(uuid.uuid4()),
        "experiments": str(uuid.uuid4()),
        "key": "no-such-key",
        "key_id": str(uuid.uuid4()),
        "product_code": "NO-SUCH-CODE",
        "iata": "LHR",
        "flights": str(uuid.uuid4()),
        "inventory-rules": str(uuid.uuid4()),
        "fare-family-sets": str(uuid.uuid4()),
        "price-point-policies": str(uuid.uuid4()),
        "bundles": str(uuid.uuid4()),
        "offer-rules": str(uuid.uuid4()),
        "fare-settings": str(uuid.uuid4()),
        "connection-rules": str(uuid.uuid4()),
        **{kind: str(uuid.uuid4()) for kind in DECISIONING},
        **{kind: str(uuid.uuid4()) for kind in (*COMMERCE, "quotes")},
        "offer_id": uuid.uuid4().hex,
        "orders": str(uuid.uuid4()),
        "profile_id": "no-such-profile",
        "name": "no-such-segment",
        "segments": str(uuid.uuid4()),
        "promotions": str(uuid.uuid4()),
        "models": str(uuid.uuid4()),
        "campaigns": str(uuid.uuid4()),
        "delivery_id": str(uuid.uuid4()),
        "programmes": str(uuid.uuid4()),
        "code": "NOSUCH",
        "customer_id": "no-such-member",
        "kind": "products",
        "job_id": str(uuid.uuid4()),
        "template_set": "no-such-set",
    }
    create_tenant(client, "BBB")
    b_keys = {role: Api(client, create_key(client, "BBB", role)) for role in ROLES}
    before = _state(client, a)
    routes = _routes(client)
    assert len(routes) >= 15, routes  # the table really was read
    for method, path in routes:
        if (method, path) == ("PUT", "/v1/profiles/{profile_id}"):
            continue  # B's key puts B's own profile of that name: checked below
        for role, api in b_keys.items():
            on_a = api.request(method, _fill(path, a), json={})
            on_missing = api.request(method, _fill(path, missing), json={})
            where = f"{method} {path} with B's {role} key"
            assert on_a.status_code in (403, 404), f"{where}: {on_a.status_code} {on_a.text}"
            assert on_a.status_code == on_missing.status_code, (
                f"{where} reveals that A's object exists"
            )
            if role == "owner" and not path.startswith("/v1/catalog"):
                assert on_a.status_code == 404, f"{where}: {on_a.status_code}"
    # A profile id names a profile of the key's own tenant: B's is another profile than A's.
    made = b_keys["runtime"].put("/v1/profiles/a-profile", json={"attributes": {"x": 2}})
    assert made.status_code == 200, made.text
    # A shipped template set applied by B's key to A (named in the query) finds no tenant.
    for role, api in b_keys.items():
        applied = api.post("/v1/admin/template-sets/airline-packages/apply?tenant=AAA")
        assert applied.status_code == (404 if role in ("owner", "editor") else 403), applied.text
    assert _state(client, a) == before
