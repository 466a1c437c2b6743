"""No request holds a pooled connection while it waits for a snapshot (or anything else that
needs a connection): right after a configuration change, more concurrent requests than the pool
has connections must all be answered at once, not stall for the pool's timeout and fail.

A real server on PostgreSQL with a pool of 2 (its overflow makes 4 connections) and 9 requests at
a time, right after a change made through it, so that each must wait for the tenant's rebuilt
snapshot, and the rebuild needs a connection of its own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import reset_postgres
from tests.helpers import FARE, SEAT, Api, add_flight, create_key, create_tenant
from tests.servers import serve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
POOL_SIZE = 2
CONCURRENT = 2 * POOL_SIZE + 5  # beyond the pool and its overflow
LIMIT_SECONDS = 3.0
BUNDLE = {
    "bundle_name": "Comfort",
    "bundle_type": "COMFORT",
    "product_types": [
        {"type": "FLIGHT", "required": True},
        {"type": "SEAT", "category": "EXTRA_LEGROOM", "required": False},
    ],
    "discount_percentage": "10.0",
}


@pytest.fixture
def server(pg_schema_url: str, tmp_path: Path) -> Iterator[str]:
    reset_postgres(pg_schema_url)
    env = {"OFFERENGINE_DATABASE_POOL_SIZE": str(POOL_SIZE)}
    with serve(pg_schema_url, tmp_path, extra_env=env) as base:
        yield base


async def _burst(base: str, key: str, method: str, path: str, body: object) -> list[int]:
    """``CONCURRENT`` requests at once; their statuses, checked to come within the limit."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, timeout=LIMIT_SECONDS + 30) as client:
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(client.request(method, path, json=body, headers=headers) for _ in range(CONCURRENT))
        )
        took = time.perf_counter() - started
    statuses = [a.status_code for a in answers]
    assert took < LIMIT_SECONDS, f"{method} {path}: {took:.1f} s, {statuses}"
    return statuses


def test_requests_right_after_a_change_never_wait_for_a_connection_held_by_another(
    server: str,
) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        create_tenant(client, "OE")
        owner = Api(client, create_key(client, "OE", "owner"))
        runtime = create_key(client, "OE", "runtime")
        fare = owner.post("/v1/admin/tenants/OE/products", json=FARE).json()
        assert owner.post("/v1/admin/tenants/OE/products", json=SEAT).status_code == 201
        bundle = owner.post("/v1/admin/tenants/OE/bundles", json=BUNDLE).json()
        flight = add_flight(owner, "OE")
        search = {"origin": "JFK", "destination": "LHR", "date": flight["departure_local"][:10]}
        requests = [
            (runtime, "GET", f"/v1/orders/{uuid.uuid4()}", None, {404}),
            (runtime, "GET", "/v1/orders", None, {200}),
            (runtime, "POST", f"/v1/orders/{uuid.uuid4()}/cancel", None, {404}),
            (
                runtime,
                "POST",
                f"/v1/orders/{uuid.uuid4()}/confirm",
                {"payment_reference": "P"},
                {404},
            ),
            (runtime, "GET", f"/v1/inventory/flights/{flight['id']}", None, {200}),
            (runtime, "GET", "/v1/profiles/someone", None, {404}),
            (
                owner.key,
                "POST",
                "/v1/admin/pricing-rules/simulate",
                {"product_id": fare["id"]},
                {200},
            ),
            (
                owner.key,
                "POST",
                f"/v1/admin/bundles/{bundle['id']}/test",
                {"search_params": search},
                {200},
            ),
            (owner.key, "GET", "/v1/admin/tenants/OE/segments/sizes", None, {200}),
            (owner.key, "GET", "/v1/admin/tenants/OE/models/report", None, {200}),
            (owner.key, "POST", "/v1/admin/tenants/OE/models/train", None, {200}),
        ]
        for n, (key, method, path, body, expected) in enumerate(requests):
            # A change through this worker: every request below waits for the rebuilt snapshot.
            changed = owner.put(
                f"/v1/admin/products/{fare['id']}", json=FARE | {"base_price": f"{200 + n}.00"}
            )
            assert changed.status_code == 200, changed.text
            assert key is not None
            statuses = asyncio.run(_burst(server, key, method, path, body))
            assert set(statuses) == expected, (path, statuses)
