from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from tests.conftest import make_settings
from tests.helpers import Api, create_key, platform, problem, tenant_api


def test_healthz_needs_no_key_and_says_ok(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_the_database_and_its_schema(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "records": "ok", "redis": "not configured"}


def test_readyz_is_503_on_a_database_that_was_never_migrated(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        body = problem(client.get("/readyz"), 503)
        assert "offerengine migrate" in body["checks"]["database"]


def test_readyz_is_503_when_the_configured_redis_is_down(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(sqlite_url, tmp_path, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        body = problem(client.get("/readyz"), 503)
        assert body["checks"]["redis"].startswith("unreachable")
        assert body["checks"]["database"] == "ok"


def test_docs_and_openapi_are_public(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert spec["components"]["schemas"]["Problem"]["properties"]["status"]["type"] == "integer"
    operation_ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(operation_ids) == len(set(operation_ids))
    # Every schema a route refers to is in the document (admin routes and run-time operations
    # document their bodies in different ways; none may be left dangling).
    referred = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert referred - set(spec["components"]["schemas"]) == set()
    assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}


def test_metrics_count_requests_by_route_template_and_status(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    for _ in range(3):
        owner.get("/v1/admin/tenants/OE/products")
    owner.get("/v1/admin/products/00000000-0000-0000-0000-000000000000")
    problem(owner.get("/metrics"), 403)  # a tenant key may not read deployment metrics
    text = platform(client).get("/metrics").text
    line = re.search(
        r'offerengine_http_requests_total\{method="GET",route="/v1/admin/tenants/\{tenant\}/products",status="200"\} (\S+)',
        text,
    )
    assert line is not None
    assert float(line.group(1)) == 3.0
    assert 'route="/v1/admin/products/{id}",status="404"' in text
    assert "offerengine_http_request_duration_seconds_bucket" in text


def test_metrics_can_be_made_public_for_a_private_scraper(sqlite_url: str, tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(sqlite_url, tmp_path, metrics_public=True))) as client:
        assert client.get("/metrics").status_code == 200


def test_logs_are_json_lines_with_the_request_id(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(sqlite_url, tmp_path, access_log=True, log_level="INFO")
    with TestClient(create_app(settings)) as client:
        capsys.readouterr()
        client.get("/healthz", headers={"X-Request-ID": "req-42"})
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    access = next(entry for entry in lines if entry.get("event") == "request")
    assert access["request_id"] == "req-42"
    assert (access["route"], access["status"], access["level"]) == ("/healthz", 200, "info")
    assert access["duration_ms"] >= 0


def test_the_runtime_catalog_serves_active_products_from_the_snapshot(client: TestClient) -> None:
    owner = tenant_api(client, "OE")
    runtime = Api(client, create_key(client, "OE", "runtime"))
    products = "/v1/admin/tenants/OE/products"
    owner.post(
        products,
        json={
            "product_type": "BAG",
            "product_code": "BAG-23",
            "name": "Bag",
            "base_price": "35",
            "cost": "9",
        },
    )
    owner.post(
        products,
        json={
            "product_type": "SEAT",
            "product_code": "SEAT-X",
            "name": "Seat",
            "base_price": "45",
            "is_active": False,
        },
    )
    listed = runtime.get("/v1/catalog/products").json()["items"]
    assert [p["product_code"] for p in listed] == ["BAG-23"]
    assert "cost" not in listed[0]  # margins are the tenant's business
    assert runtime.get("/v1/catalog/products", params={"type": "SEAT"}).json()["items"] == []
    problem(runtime.get("/v1/catalog/products", params={"typ": "SEAT"}), 422)  # strict here too
    problem(runtime.get("/v1/catalog/products/SEAT-X"), 404)
    bag = runtime.get("/v1/catalog/products/BAG-23")
    assert bag.json()["base_price"] == "35.00"
    # A change through the admin API is served by the next run-time request of this worker.
    bag_id = bag.json()["id"]
    owner.put(
        f"/v1/admin/products/{bag_id}",
        json={
            "product_type": "BAG",
            "product_code": "BAG-23",
            "name": "Bag",
            "base_price": "39.50",
        },
    )
    assert runtime.get("/v1/catalog/products/BAG-23").json()["base_price"] == "39.50"
