"""Event batches for one profile at once, through two workers: its aggregates and features add
up, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.helpers import Api, create_key, create_tenant
from tests.servers import serve

pytestmark = pytest.mark.slow
BATCHES = 12


def test_concurrent_batches_for_one_profile_add_up(database_url: str, tmp_path: Path) -> None:
    with (
        serve(database_url, tmp_path, workers=2) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        create_tenant(client, "OE")
        key = create_key(client, "OE", "runtime")

        def send(i: int) -> int:
            with httpx.Client(base_url=url, timeout=30) as own:
                events = [
                    {"type": "click", "profile_id": "ada"},
                    {"type": "purchase", "profile_id": "ada", "value": "10.25"},
                    {"type": "click", "profile_id": f"other-{i}"},
                ]
                return Api(own, key).post("/v1/events", json={"events": events}).status_code

        with ThreadPoolExecutor(BATCHES) as pool:
            statuses = list(pool.map(send, range(BATCHES)))
        assert statuses == [202] * BATCHES
        found = Api(client, key).get("/v1/profiles/ada").json()
        assert (found["clicks"], found["purchases"]) == (BATCHES, BATCHES)
        assert found["spend"] == pytest.approx(10.25 * BATCHES)
        # Its features too, kept in the same transaction under the same lock.
        assert found["features"]["purchases_7d"] == BATCHES
        assert Decimal(found["features"]["revenue_7d"]) == Decimal("10.25") * BATCHES
