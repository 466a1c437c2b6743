"""Every error is a problem document; bad input is a 4xx naming the field; nothing is a 500."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.settings import Settings
from tests.conftest import make_settings
from tests.helpers import SEAT, Api, create_key, error_locs, platform, problem, tenant_api


def test_an_unknown_route_is_a_404_problem(client: TestClient) -> None:
    assert problem(client.get("/v2/nothing"), 404)["detail"].startswith("No such route")


def test_a_wrong_method_is_a_405_problem_that_says_what_is_allowed(client: TestClient) -> None:
    response = platform(client).request("PATCH", "/v1/admin/tenants")
    problem(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_malformed_json_is_a_400_with_the_position(client: TestClient) -> None:
    tenant_api(client, "OE")
    response = platform(client).post(
        "/v1/admin/tenants/OE/products",
        content=b'{"name": ',
        headers={"Content-Type": "application/json"},
    )
    body = problem(response, 400)
    assert body["errors"][0]["loc"][0] == "body"


def test_deeply_nested_json_is_refused_not_crashed_on(client: TestClient) -> None:
    tenant_api(client, "OE")
    for payload in (b"[" * 100_000, b'{"a":' * 5_000 + b"1" + b"}" * 5_000):
        response = platform(client).post(
            "/v1/admin/tenants/OE/products",
            content=payload,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code in (400, 422), response.text
        assert response.headers["content-type"] == "application/problem+json"


def test_a_body_over_the_limit_is_a_413_problem(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(sqlite_url, tmp_path, max_body_bytes=2048)
    with TestClient(create_app(settings), raise_server_exceptions=False) as small:
        tenant_api(small, "OE")
        big = SEAT | {"description": "x" * 4096}
        problem(platform(small).post("/v1/admin/tenants/OE/products", json=big), 413)
        # A streamed body without Content-Length is cut off at the limit too.
        chunks = (b'{"description": "' + b"y" * 1024 for _ in range(4))
        streamed = platform(small).post(
            "/v1/admin/tenants/OE/products",
            content=chunks,
            headers={"Content-Type": "application/json"},
        )
        problem(streamed, 413)
        assert platform(small).get("/v1/admin/tenants/OE/products").json()["items"] == []
        # So is one sent to a run-time operation, served by the run-time app.
        runtime = Api(small, create_key(small, "OE", "runtime"))
        for path in ("/v1/decisions", "/v1/quote", "/v1/offers/search"):
            chunks = (b'{"activities": "' + b"y" * 1024 for _ in range(4))
            problem(
                runtime.post(path, content=chunks, headers={"Content-Type": "application/json"}),
                413,
            )


def test_validation_errors_list_every_field_with_its_location(client: TestClient) -> None:
    tenant_api(client, "OE")
    body = problem(
        platform(client).get(
            "/v1/admin/tenants/OE/products", params={"limit": 0, "active": "maybe"}
        ),
        422,
    )
    assert {tuple(loc) for loc in error_locs(body)} == {("query", "limit"), ("query", "active")}
    assert body["detail"].startswith("query.")


def test_a_malformed_id_in_a_path_is_a_422_naming_the_path_parameter(client: TestClient) -> None:
    tenant_api(client, "OE")
    runtime = Api(client, create_key(client, "OE", "runtime"))
    for api, method, path, name in (
        (platform(client), "GET", "/v1/admin/products/not-a-uuid", "id"),
        (platform(client), "POST", "/v1/admin/products/123/rollback", "id"),
        (platform(client), "GET", "/v1/admin/products/not-a-uuid/versions/1", "id"),
        (platform(client), "DELETE", "/v1/admin/tenants/OE/api-keys/nope", "key_id"),
        (runtime, "GET", "/v1/offers/not-a-uuid", "offer_id"),
        (runtime, "POST", "/v1/offers/NOT-HEX/price", "offer_id"),
        (runtime, "GET", "/v1/orders/42", "id"),
        (runtime, "POST", "/v1/orders/x/confirm", "id"),
        (runtime, "GET", "/v1/inventory/flights/yesterday", "id"),
    ):
        body = problem(api.request(method, path), 422)
        assert error_locs(body) == [["path", name]], (method, path, body)
        assert "No such route" not in body["detail"]
        assert body["errors"][0]["msg"].startswith("must be"), body  # what to send instead
    # A well-formed id that names nothing is still a 404 ...
    missing = f"/v1/admin/products/{uuid.uuid4()}"
    assert "No such route" not in problem(platform(client).get(missing), 404)["detail"]
    problem(runtime.get(f"/v1/orders/{uuid.uuid4()}"), 404)
    problem(runtime.get(f"/v1/offers/{uuid.uuid4().hex}"), 404)
    # ... a path no route would take, whatever its segments, stays one ...
    problem(platform(client).get("/v1/admin/nothing/not-a-uuid"), 404)
    # ... and a word in the id's place can be a route of its own: simulate takes POST only
    wrong_method = platform(client).put("/v1/admin/pricing-rules/simulate", json={})
    problem(wrong_method, 405)
    assert wrong_method.headers["allow"] == "POST"


def test_the_request_id_is_echoed_or_made(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(made.headers["x-request-id"]) == 32


def test_an_unknown_or_repeated_query_parameter_is_a_422_naming_it(client: TestClient) -> None:
    tenant_api(client, "OE")
    typo = problem(
        platform(client).get("/v1/admin/tenants/OE/products", params={"categroy": "SEAT"}), 422
    )
    assert error_locs(typo) == [["query", "categroy"]]
    assert "category" in typo["errors"][0]["msg"]  # it says what the route takes
    twice = problem(platform(client).get("/v1/admin/tenants/OE/products?type=SEAT&type=BAG"), 422)
    assert error_locs(twice) == [["query", "type"]]
    problem(client.get("/healthz?verbose=1"), 422)


def test_an_empty_filter_value_is_a_422_not_a_silent_no_filter(client: TestClient) -> None:
    tenant_api(client, "OE")
    body = problem(platform(client).get("/v1/admin/tenants/OE/products?type="), 422)
    assert error_locs(body) == [["query", "type"]]


def test_a_path_two_run_time_patterns_match_goes_to_the_one_taking_its_method(
    client: TestClient,
) -> None:
    # /v1/feature-flags/key/evaluate is GET /v1/feature-flags/key/{key} and POST
    # /v1/feature-flags/{key}/evaluate: a POST evaluates the flag named "key" (none here: 404).
    runtime = tenant_api(client, "PL", role="runtime")
    missing = problem(runtime.post("/v1/feature-flags/key/evaluate", json={}), 404)
    assert "key" in missing["detail"]
    problem(runtime.get("/v1/feature-flags/key/evaluate"), 404)
    wrong = runtime.delete("/v1/feature-flags/key/evaluate")
    problem(wrong, 405)
    assert wrong.headers["allow"] == "GET, POST"


def test_routes_served_plainly_keep_their_checks_errors_and_metrics(client: TestClient) -> None:
    # Run-time routes are served by the run-time app, not FastAPI: what the admin app's routes
    # give (strict query, 405 with Allow, 401, 400, metrics labels) must hold all the same.
    runtime = tenant_api(client, "PL", role="runtime")
    for path in ("/v1/decisions", "/v1/quote", "/v1/offers/search"):
        assert ("POST", path) in client.app.runtime  # type: ignore[attr-defined]
        body = problem(runtime.post(f"{path}?typo=1", json={}), 422)
        assert error_locs(body) == [["query", "typo"]]
        wrong = problem(runtime.get(path), 405)
        assert wrong["status"] == 405
        assert runtime.get(path).headers["allow"] == "POST"
        problem(Api(client, None).post(path, json={}), 401)
        problem(runtime.post(path, content=b"{", headers={"Content-Type": "application/json"}), 400)
    text = platform(client).get("/metrics").text
    assert 'route="/v1/decisions"' in text
    assert 'route="/v1/quote"' in text
    assert 'route="/v1/offers/search"' in text


def test_a_failure_inside_a_hot_route_is_a_logged_500_problem(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from offerengine.decisioning import runtime as deciding

    async def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(deciding, "decide", broken)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        runtime = tenant_api(client, "HB", role="runtime")
        request = {"profile": {"id": "p"}, "activities": [str(uuid.uuid4())]}
        body = problem(runtime.post("/v1/decisions", json=request), 500)
        assert body["type"].endswith(":internal")
        assert "a bug" not in body["detail"]  # nothing of the failure leaks to the client
        text = platform(client).get("/metrics").text
        assert 'route="/v1/decisions",status="500"' in text


def test_a_database_busy_past_its_timeout_is_a_503_to_retry_not_a_500() -> None:
    import sqlite3

    from fastapi import FastAPI
    from sqlalchemy.exc import OperationalError

    from offerengine.http import problems

    app = FastAPI()
    problems.install(app)

    @app.post("/write")
    async def write() -> None:
        raise OperationalError(
            "BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")
        )

    @app.post("/broken")
    async def broken() -> None:
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))

    with TestClient(app, raise_server_exceptions=False) as client:
        busy = client.post("/write")
        assert problem(busy, 503)["type"].endswith(":unavailable")
        assert busy.headers["retry-after"] == "1"
        assert problem(client.post("/broken"), 500)["type"].endswith(":internal")


def _phrases_of_pydantic(body: dict[str, Any]) -> list[str]:
    """Messages still worded for programmers rather than for the person sending the request."""
    said = [body["detail"], *(e["msg"] for e in body.get("errors", []))]
    return [
        m
        for m in said
        if any(p in m for p in ("Value error", "should match pattern", "Input should", "Field "))
    ]


def test_validation_messages_say_what_to_send_in_plain_words(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    products = "/v1/admin/tenants/OE/products"
    cases: list[tuple[dict[str, Any], list[Any], str]] = [
        (SEAT | {"currency": "eur"}, ["body", "currency"], "three-letter ISO currency code"),
        (SEAT | {"product_type": "seat"}, ["body", "product_type"], "must start with a capital"),
        ({k: v for k, v in SEAT.items() if k != "name"}, ["body", "name"], "is required"),
        (SEAT | {"colour": "red"}, ["body", "colour"], "not a field"),
        (SEAT | {"is_active": "maybe"}, ["body", "is_active"], "true or false"),
    ]
    for sent, loc, says in cases:
        body = problem(owner.post(products, json=sent), 422)
        assert loc in error_locs(body), body
        msg = next(e["msg"] for e in body["errors"] if e["loc"] == loc)
        assert says in msg, msg
        assert _phrases_of_pydantic(body) == [], body
    # A message a validator of ours wrote loses pydantic's "Value error, " prefix.
    zone = platform(client).post(
        "/v1/admin/tenants",
        json={
            "code": "TZ",
            "name": "T",
            "kind": "airline",
            "base_currency": "USD",
            "timezone": "Mars/Base",
        },
    )
    body = problem(zone, 422)
    assert body["errors"][0]["msg"].startswith("'Mars/Base' is not an IANA time zone"), body
    # Query parameters (admin app) and path parameters (run-time app) are worded the same way.
    body = problem(owner.get(products, params={"limit": "lots"}), 422)
    assert body["errors"][0]["msg"] == "must be a whole number"
    runtime = Api(client, create_key(client, "OE", "runtime"))
    body = problem(
        runtime.post("/v1/decisions", json={"profile": {"id": "p"}, "activities": []}), 422
    )
    assert body["errors"][0]["msg"] == "must have at least 1 item"
    assert _phrases_of_pydantic(body) == []


def test_a_refused_role_is_named_with_its_article_and_the_keys_that_may(client: TestClient) -> None:
    tenant_api(client, "OE")
    editor = Api(client, create_key(client, "OE", "editor"))
    body = problem(editor.post("/v1/decisions", json={}), 403)
    assert body["detail"].startswith("An editor key may not do this: it needs the runtime")
    assert "owner and runtime keys" in body["detail"]
    viewer = Api(client, create_key(client, "OE", "viewer"))
    body = problem(viewer.post("/v1/admin/tenants/OE/products", json=SEAT), 403)
    assert body["detail"].startswith("A viewer key may not do this")


def _activity_named(owner: Api, tenant: str, name: str, status: str = "approved") -> str:
    base = f"/v1/admin/tenants/{tenant}/decisioning"

    def make(kind: str, body: dict[str, object]) -> str:
        response = owner.post(f"{base}/{kind}", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    spot = make("placements", {"name": f"{name} spot", "channel": "web", "content_type": "json"})
    content = [{"placement_id": spot, "content": {"h": name}}]
    make(
        "offers",
        {"name": f"{name} offer", "status": "approved", "tags": [name], "representations": content},
    )
    fallback = make("fallback-offers", {"name": f"{name} fallback", "representations": content})
    collection = make("collections", {"name": f"{name} collection", "tags": [name]})
    return make(
        "activities",
        {
            "name": name,
            "status": status,
            "placement_id": spot,
            "collection_id": collection,
            "fallback_offer_id": fallback,
        },
    )


def test_decisions_take_activities_by_name_as_well_as_by_id(client: TestClient) -> None:
    owner = tenant_api(client, "DN")
    runtime = Api(client, create_key(client, "DN", "runtime"))
    home = _activity_named(owner, "DN", "Home page hero")
    basket = _activity_named(owner, "DN", "Basket")
    draft = _activity_named(owner, "DN", "Checkout", status="draft")

    def decide(*activities: str) -> Any:
        return runtime.post(
            "/v1/decisions",
            json={"profile": {"id": "p-1"}, "activities": list(activities), "dry_run": True},
        )

    by_name = decide("Home page hero", basket)
    assert by_name.status_code == 200, by_name.text
    assert [p["activity_id"] for p in by_name.json()["propositions"]] == [home, basket]
    assert [i["name"] for i in by_name.json()["propositions"][0]["items"]] == [
        "Home page hero offer"
    ]
    # An unknown name or id, an activity that does not take part, and one named twice (by its
    # id and its name) are each a 422 naming the item at fault.
    missing_id = str(uuid.uuid4())
    body = problem(decide("Home page heroes", missing_id, "Checkout", home, "Home page hero"), 422)
    assert error_locs(body) == [["body", "activities", i] for i in (0, 1, 2, 4)]
    msgs = [e["msg"] for e in body["errors"]]
    assert "'Home page heroes'" in msgs[0]
    assert missing_id in msgs[1]
    assert "does not take part" in msgs[2]
    assert "draft" in msgs[2]
    assert msgs[3] == "named twice"
    assert draft not in by_name.text


def test_an_event_in_the_future_is_a_422_naming_the_field_as_sent(client: TestClient) -> None:
    tenant_api(client, "EV")
    runtime = Api(client, create_key(client, "EV", "runtime"))
    now = datetime.now(UTC)
    later = (now + timedelta(hours=2)).isoformat()
    for key in ("occurred_at", "at"):
        body = problem(
            runtime.post("/v1/events", json={"type": "click", "profile_id": "p", key: later}), 422
        )
        assert error_locs(body) == [["body", key]]
        assert "in the future" in body["errors"][0]["msg"]
    batch = {
        "events": [
            {"type": "click", "profile_id": "p", "at": now.isoformat()},
            {"type": "click", "profile_id": "p", "at": later},
            {"type": "click", "profile_id": "p", "occurred_at": later},
        ]
    }
    body = problem(runtime.post("/v1/events", json=batch), 422)
    assert error_locs(body) == [["body", "events", 1, "at"], ["body", "events", 2, "occurred_at"]]
    # Nothing of a refused batch is stored; a clock a minute or two fast is allowed for.
    skewed = (now + timedelta(minutes=2)).isoformat()
    accepted = runtime.post("/v1/events", json=batch["events"][0] | {"at": skewed})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {"accepted": 1, "duplicates": 0}
    # A malformed time is worded plainly, under the key the client sent.
    body = problem(
        runtime.post("/v1/events", json={"type": "click", "profile_id": "p", "at": "soon"}), 422
    )
    assert error_locs(body) == [["body", "at"]]
    assert "ISO 8601" in body["errors"][0]["msg"]


def test_express_delivery_priced_only_in_another_currency_names_the_currency(
    client: TestClient,
) -> None:
    owner = tenant_api(client, "XC", kind="marketplace", base_currency="TRY")
    for body in (
        {"name": "Delivery", "type": "DELIVERY_FEE", "configuration": {"base_fee": "20.00"}},
        {
            "name": "Delivery EUR",
            "type": "DELIVERY_FEE",
            "currency": "EUR",
            "configuration": {"base_fee": "2.00"},
        },
        {
            "name": "Express",
            "type": "EXPRESS_FEE",
            "region": "TR",
            "configuration": {"multiplier": "2"},
        },
    ):
        made = owner.post("/v1/admin/tenants/XC/fee-rules", json=body)
        assert made.status_code == 201, made.text
    runtime = Api(client, create_key(client, "XC", "runtime"))
    basket = {
        "customer_id": "c-1",
        "items": [{"product_id": "p-1", "quantity": 1, "unit_price": "25.50"}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "is_express_delivery": True,
    }
    assert runtime.post("/v1/quote", json=basket | {"currency": "TRY"}).status_code == 200
    body = problem(runtime.post("/v1/quote", json=basket | {"currency": "EUR"}), 422)
    assert error_locs(body) == [["body", "currency"]]
    assert "priced in TRY, not EUR" in body["errors"][0]["msg"]
    # Where express is offered in no currency at all, the express flag is what is at fault.
    body = problem(
        runtime.post(
            "/v1/quote",
            json=basket
            | {"delivery_address": {"city": "Berlin", "country": "DE"}, "currency": "EUR"},
        ),
        422,
    )
    assert error_locs(body) == [["body", "is_express_delivery"]]
