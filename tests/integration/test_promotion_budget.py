"""Recommendations at once, through two workers, never spend more than a promotion's budget or
grant more than a product's promotion stock, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest
from typer.testing import CliRunner

from offerengine.cli import app as cli
from offerengine.learning import synthetic
from tests.e2e.test_promotions import _customers, _promotion
from tests.helpers import Api, create_key, create_tenant
from tests.servers import serve

pytestmark = pytest.mark.slow
CALLS = 6


def test_concurrent_recommendations_stay_within_budget_and_stock(
    database_url: str, tmp_path: Path
) -> None:
    with (
        serve(database_url, tmp_path, workers=2) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        create_tenant(client, "OE")
        owner = Api(client, create_key(client, "OE", "owner"))
        key = create_key(client, "OE", "runtime")
        promotion = _promotion(
            budget="60.00", products=[{"code": "P0", "stock": 6}, {"code": "P1", "stock": 6}]
        )
        owner.put(
            "/v1/admin/tenants/OE/promotions", json={"promotions": [promotion]}
        ).raise_for_status()
        trained = CliRunner().invoke(
            cli,
            ["train-uplift", "--tenant", "OE", "--promotion", "SAVE15", "--synthetic", "1500"],
            env={"OFFERENGINE_DATABASE_URL": database_url},
        )
        assert trained.exit_code == 0, trained.output
        time.sleep(0.6)  # the workers' snapshots take the new model version in
        shoppers = synthetic.shoppers(CALLS * 100, seed=5)

        def call(i: int) -> list[dict[str, object]]:
            with httpx.Client(base_url=url, timeout=60) as own:
                response = Api(own, key).post(
                    "/v1/promotions/recommend",
                    json={"customers": _customers(shoppers, i * 100, 100)},
                )
                assert response.status_code == 200, response.text
                return list(response.json()["grants"])

        with ThreadPoolExecutor(CALLS) as pool:
            grants = [g for found in pool.map(call, range(CALLS)) for g in found]
        usage = owner.get("/v1/admin/tenants/OE/promotions/usage").json()[0]
    assert grants
    assert float(usage["spent"]) <= 60.0
    assert float(usage["spent"]) == pytest.approx(sum(float(g["expected_cost"]) for g in grants))
    for product in ("P0", "P1"):
        assert usage["products"][product]["granted"] <= 6
        assert usage["products"][product]["granted"] == sum(
            1 for g in grants if g["product"] == product
        )
