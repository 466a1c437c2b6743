"""Concurrent conflicting writes through real multi-worker servers, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.helpers import Api, create_key, create_tenant
from tests.servers import serve

pytestmark = pytest.mark.slow
SEAT = {"product_type": "SEAT", "product_code": "SEAT-1", "name": "Seat", "base_price": "30.00"}
ATTEMPTS = 16


def test_concurrent_updates_of_one_version_let_exactly_one_win(
    database_url: str, tmp_path: Path
) -> None:
    with (
        serve(database_url, tmp_path, workers=2) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        create_tenant(client, "OE")
        key = create_key(client, "OE", "editor")
        product = Api(client, key).post("/v1/admin/tenants/OE/products", json=SEAT).json()

        def attempt(i: int) -> int:
            with httpx.Client(base_url=url, timeout=30) as own:
                return (
                    Api(own, key)
                    .put(
                        f"/v1/admin/products/{product['id']}",
                        json=SEAT | {"base_price": f"{40 + i}.00"},
                        headers={"If-Match": '"1"'},
                    )
                    .status_code
                )

        with ThreadPoolExecutor(ATTEMPTS) as pool:
            statuses = list(pool.map(attempt, range(ATTEMPTS)))
        assert sorted(statuses) == [200] + [409] * (ATTEMPTS - 1), statuses
        history = (
            Api(client, key).get(f"/v1/admin/products/{product['id']}/versions").json()["items"]
        )
        assert [v["version"] for v in history] == [1, 2]


def test_concurrent_creates_of_one_code_make_exactly_one_product(
    database_url: str, tmp_path: Path
) -> None:
    with (
        serve(database_url, tmp_path, workers=2) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        create_tenant(client, "OE")
        key = create_key(client, "OE", "editor")

        def attempt(i: int) -> int:
            with httpx.Client(base_url=url, timeout=30) as own:
                return (
                    Api(own, key)
                    .post("/v1/admin/tenants/OE/products", json=SEAT | {"name": f"Seat {i}"})
                    .status_code
                )

        with ThreadPoolExecutor(ATTEMPTS) as pool:
            statuses = list(pool.map(attempt, range(ATTEMPTS)))
        assert sorted(statuses) == [201] + [409] * (ATTEMPTS - 1), statuses
        listed = Api(client, key).get("/v1/admin/tenants/OE/products").json()["items"]
        assert len(listed) == 1
