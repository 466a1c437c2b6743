"""Several real server processes sharing one database (and Redis): what one changes, the others
serve within the documented bound; a revoked key is refused everywhere once the revocation answered."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.helpers import Api, create_key, create_tenant, platform
from tests.servers import serve

pytestmark = pytest.mark.slow
BAG = {
    "product_type": "BAG",
    "product_code": "BAG-23",
    "name": "Checked bag",
    "base_price": "35.00",
}


def _until(check: Callable[[], bool], limit: float) -> float:
    """Seconds until ``check()`` holds; fails the test after ``limit`` seconds."""
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > limit:
            pytest.fail(f"not seen within {limit} s")
        time.sleep(0.002)
    return time.perf_counter() - started


def _propagation(a: httpx.Client, b: httpx.Client, limit: float) -> float:
    """Change a product through A and return how long B took to serve it; revoke a key through A
    and check that B refuses it from the first request after the revocation answered."""
    create_tenant(a, "OE")
    owner = Api(a, create_key(a, "OE", "owner"))
    runtime_key = create_key(a, "OE", "runtime")
    on_b = Api(b, runtime_key)
    product = owner.post("/v1/admin/tenants/OE/products", json=BAG).json()
    assert _until(lambda: on_b.get("/v1/catalog/products/BAG-23").status_code == 200, limit) >= 0
    assert (
        owner.put(
            f"/v1/admin/products/{product['id']}", json=BAG | {"base_price": "39.50"}
        ).status_code
        == 200
    )
    config_delay = _until(
        lambda: on_b.get("/v1/catalog/products/BAG-23").json()["base_price"] == "39.50", limit
    )
    key_id = next(
        k["id"]
        for k in owner.get("/v1/admin/tenants/OE/api-keys").json()["items"]
        if k["role"] == "runtime"
    )
    # A pricing rule saved through A prices on B (simulate reads B's snapshot).
    rule = {
        "rule_name": "surcharge",
        "rule_type": "CUSTOM",
        "adjustments": {"type": "FIXED", "value": "5"},
    }
    assert owner.post("/v1/admin/tenants/OE/pricing-rules", json=rule).status_code == 201
    owner_on_b = Api(b, owner.key)
    simulate = {"product_id": product["id"], "scenario": {}}
    _until(
        lambda: (
            owner_on_b.post("/v1/admin/pricing-rules/simulate", json=simulate).json()["final_price"]
            == "44.50"
        ),
        limit,
    )
    assert on_b.get("/v1/catalog/products").status_code == 200  # B has the key cached
    assert owner.delete(f"/v1/admin/tenants/OE/api-keys/{key_id}").status_code == 204
    assert on_b.get("/v1/catalog/products").status_code == 401  # at once, on the other instance
    return config_delay


def test_with_redis_a_change_reaches_another_instance_in_milliseconds(
    pg_schema_url: str, redis_url: str, tmp_path: Path
) -> None:
    from tests.conftest import reset_postgres

    reset_postgres(pg_schema_url)
    prefix = f"oe-test-{uuid.uuid4().hex[:8]}"
    with (
        serve(pg_schema_url, tmp_path, redis_url=redis_url, redis_prefix=prefix) as url_a,
        serve(pg_schema_url, tmp_path, redis_url=redis_url, redis_prefix=prefix) as url_b,
        httpx.Client(base_url=url_a) as a,
        httpx.Client(base_url=url_b) as b,
    ):
        config_delay = _propagation(a, b, limit=1.0)
    print(f"\nRedis: config seen by the other instance after {config_delay * 1000:.1f} ms")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_without_redis_a_change_reaches_another_instance_within_the_poll_interval(
    backend: str, request: pytest.FixtureRequest, sqlite_url: str, tmp_path: Path
) -> None:
    if backend == "postgresql":
        from tests.conftest import reset_postgres

        url: str = request.getfixturevalue("pg_schema_url")
        reset_postgres(url)
    else:
        url = sqlite_url
    poll = 0.2
    with (
        serve(url, tmp_path, poll_seconds=poll) as url_a,
        serve(url, tmp_path, poll_seconds=poll) as url_b,
        httpx.Client(base_url=url_a) as a,
        httpx.Client(base_url=url_b) as b,
    ):
        # The bound: one poll interval, plus the rebuild and a request's own time.
        config_delay = _propagation(a, b, limit=poll + 0.5)
    print(f"\nPolling every {poll} s ({backend}): config seen after {config_delay * 1000:.0f} ms")


def test_platform_requests_work_through_a_real_server(sqlite_url: str, tmp_path: Path) -> None:
    with serve(sqlite_url, tmp_path) as url, httpx.Client(base_url=url) as client:
        assert platform(client).get("/v1/admin/tenants").json() == []
