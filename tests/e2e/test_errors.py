"""Every error is a problem document; bad input is a 4xx naming the field; nothing is a 500."""

from __future__ import annotations

import uuid
from pathlib import Path

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


def test_a_malformed_id_matches_no_route(client: TestClient) -> None:
    tenant_api(client, "OE")
    body = problem(platform(client).get("/v1/admin/products/not-a-uuid"), 404)
    assert "UUID" in body["detail"]
    # and so a word in the id's place can be a route of its own: simulate takes POST only
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
