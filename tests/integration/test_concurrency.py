"""Concurrent conflicting writes through real multi-worker servers, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.helpers import Api, create_key, create_tenant
from tests.servers import serve

pytestmark = pytest.mark.slow
SEAT = {"product_type": "SEAT", "product_code": "SEAT-1", "name": "Seat", "base_price": "30.00"}
ATTEMPTS = 16


@pytest.fixture
def editor(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """An editor of tenant OE on a two-worker server over the database."""
    with (
        serve(database_url, tmp_path, workers=2) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        create_tenant(client, "OE")
        yield Api(client, create_key(client, "OE", "editor"))


def _race(editor: Api, attempt: Callable[[Api, int], int]) -> list[int]:
    """Run ``attempt`` ATTEMPTS times at once, each on its own connection; their statuses."""

    def one(i: int) -> int:
        with httpx.Client(base_url=str(editor.client.base_url), timeout=30) as own:
            return attempt(Api(own, editor.key), i)

    with ThreadPoolExecutor(ATTEMPTS) as pool:
        return list(pool.map(one, range(ATTEMPTS)))


def test_concurrent_updates_of_one_version_let_exactly_one_win(editor: Api) -> None:
    product = editor.post("/v1/admin/tenants/OE/products", json=SEAT).json()
    statuses = _race(
        editor,
        lambda api, i: (
            api.put(
                f"/v1/admin/products/{product['id']}",
                json=SEAT | {"base_price": f"{40 + i}.00"},
                headers={"If-Match": '"1"'},
            ).status_code
        ),
    )
    assert sorted(statuses) == [200] + [409] * (ATTEMPTS - 1), statuses
    history = editor.get(f"/v1/admin/products/{product['id']}/versions").json()["items"]
    assert [v["version"] for v in history] == [1, 2]


def test_concurrent_creates_of_one_code_make_exactly_one_product(editor: Api) -> None:
    statuses = _race(
        editor,
        lambda api, i: (
            api.post("/v1/admin/tenants/OE/products", json=SEAT | {"name": f"Seat {i}"}).status_code
        ),
    )
    assert sorted(statuses) == [201] + [409] * (ATTEMPTS - 1), statuses
    assert len(editor.get("/v1/admin/tenants/OE/products").json()["items"]) == 1
