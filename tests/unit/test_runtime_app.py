"""The run-time app's routing: exact paths, patterns, the method deciding between patterns that
match the same path, 405 naming every method, and everything else handed to the admin app."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import State
from starlette.responses import PlainTextResponse, Response
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from offerengine.http.runtime import Call, Operation, RuntimeApp


async def _endpoint(call: Call, **_: Any) -> Response:
    raise AssertionError("not served in these tests")


def _op(method: str, path: str) -> Operation:
    return Operation(
        method=method, path_format=path, endpoint=_endpoint, operation_id=path, tags=["t"]
    )


async def _admin(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse(f"admin {scope['method']} {scope['path']}")(scope, receive, send)


OPERATIONS = [
    _op("POST", "/v1/decisions"),
    _op("GET", "/v1/flags/key/{key}"),
    _op("POST", "/v1/flags/{key}/evaluate"),
    _op("GET", "/v1/orders/{id:uuid}"),
    _op("POST", "/v1/orders/{id:uuid}/cancel"),
]


@pytest.fixture
def app() -> RuntimeApp:
    return RuntimeApp(OPERATIONS, admin=_admin, state=State())


def test_exact_and_patterned_paths_find_their_operation_and_parameters(app: RuntimeApp) -> None:
    assert ("POST", "/v1/decisions") in app
    assert ("GET", "/v1/decisions") not in app
    found = app._match("GET", "/v1/orders/7d1e6b5c-5a0a-4c43-9b55-2f7f0f1f2a3b")
    assert isinstance(found, tuple)
    operation, params = found
    assert operation.path_format == "/v1/orders/{id:uuid}"
    assert str(params["id"]) == "7d1e6b5c-5a0a-4c43-9b55-2f7f0f1f2a3b"


def test_the_method_chooses_between_patterns_matching_one_path(app: RuntimeApp) -> None:
    get = app._match("GET", "/v1/flags/key/evaluate")
    post = app._match("POST", "/v1/flags/key/evaluate")
    assert isinstance(get, tuple)
    assert get[0].path_format == "/v1/flags/key/{key}"
    assert get[1] == {"key": "evaluate"}
    assert isinstance(post, tuple)
    assert post[0].path_format == "/v1/flags/{key}/evaluate"
    assert post[1] == {"key": "key"}


def test_a_run_time_path_with_another_method_is_a_405_naming_all(app: RuntimeApp) -> None:
    client = TestClient(app)
    wrong = client.delete("/v1/flags/key/evaluate")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, POST"
    assert wrong.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/decisions").headers["allow"] == "POST"


def test_anything_else_goes_to_the_admin_app(app: RuntimeApp) -> None:
    client = TestClient(app)
    assert client.get("/v1/orders/not-a-uuid").text == "admin GET /v1/orders/not-a-uuid"
    assert client.get("/v1/admin/tenants").text == "admin GET /v1/admin/tenants"


def test_an_operation_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        RuntimeApp([_op("POST", "/v1/x"), _op("POST", "/v1/x")], admin=_admin, state=State())
