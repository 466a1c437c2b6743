"""Promotion targeting end to end: definitions, an uplift model trained by the CLI on synthetic
shoppers, recommendations through the API within budgets, stock and limits, and the batch CLI."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from offerengine.app import create_app
from offerengine.cli import app as cli
from offerengine.learning import synthetic
from offerengine.settings import Settings
from tests.helpers import Api, create_key, error_locs, tenant_api

MARGIN_RATE, DISCOUNT = 0.30, 15.0


def _promotion(**changes: Any) -> dict[str, Any]:
    return {
        "code": "SAVE15",
        "name": "15 off",
        "currency": "EUR",
        "discount": "15.00",
        "margin": "30.00",
        "budget": "600.00",
        "per_customer": 1,
        "products": [
            {"code": "P0", "stock": 1000},
            {"code": "P1", "stock": 1000},
            {"code": "P2", "stock": 5, "low_stock_below": 0},
            {"code": "P3", "stock": 1000, "low_stock_below": 2000},  # low from the start
            {"code": "P4", "stock": 1000},
        ],
        "features": list(synthetic.FEATURES),
        **changes,
    }


def _customers(shoppers: synthetic.Shoppers, first: int, n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"c{i}",
            "features": {
                **dict(zip(synthetic.FEATURES, shoppers.features[i].tolist(), strict=True)),
            },
        }
        for i in range(first, first + n)
    ]


def test_promotions_go_where_they_change_behaviour_within_budget_and_stock(
    settings: Settings, tmp_path: Path
) -> None:
    env = {"OFFERENGINE_DATABASE_URL": settings.database_url}
    runner = CliRunner()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner = tenant_api(client, "ZZ")
        runtime = Api(client, create_key(client, "ZZ", "runtime"))
        put = owner.put("/v1/admin/tenants/ZZ/promotions", json={"promotions": [_promotion()]})
        assert put.status_code == 200, put.text

        # No model yet: nothing is offered, and the answer says why.
        none = runtime.post("/v1/promotions/recommend", json={"customer_id": "c1"}).json()
        assert none["grants"] == []
        assert none["promotions_not_offered"] == {"SAVE15": "no uplift model trained"}

        trained = runner.invoke(
            cli,
            ["train-uplift", "--tenant", "ZZ", "--promotion", "SAVE15", "--synthetic", "6000"],
            env=env,
        )
        assert trained.exit_code == 0, trained.output
        assert "SAVE15 model v1: 6,000 customers" in trained.output
        time.sleep(0.5)  # the worker's snapshot takes the new model version in

        # This week's shoppers, never seen by the model (another seed).
        now = synthetic.shoppers(1500, seed=99)
        body = {"customers": _customers(now, 0, 1500), "budget": "400.00", "dry_run": True}
        dry = runtime.post("/v1/promotions/recommend", json=body)
        assert dry.status_code == 200, dry.text
        found = dry.json()
        grants = found["grants"]
        assert grants
        assert sum(float(g["expected_cost"]) for g in grants) <= 400.0
        assert {g["product"] for g in grants} <= {"P0", "P1", "P2", "P4"}  # P3 is low in stock
        assert sum(1 for g in grants if g["product"] == "P2") <= 5
        assert found["skipped"]["no expected gain"] > 0
        assert all(
            g["p_with"] - g["p_without"] == pytest.approx(g["uplift"], abs=1e-3) for g in grants
        )
        # The model's picks earn more real margin than seed 004's rule at the same number.
        truth = now.true_incremental_margin(MARGIN_RATE, DISCOUNT)
        chosen = [int(g["customer_id"][1:]) for g in grants]
        rule = np.flatnonzero(now.viewed_not_bought())[: len(chosen)]
        assert truth[chosen].sum() > truth[rule].sum()
        usage = owner.get("/v1/admin/tenants/ZZ/promotions/usage").json()
        assert usage[0]["spent"] == "0.00"  # a dry run counts nothing
        assert usage[0]["model"]["qini_model"] > usage[0]["model"]["qini_random"]

        # The batch command: a file of customers in, a file of grants out.
        people = tmp_path / "customers.csv"
        later = synthetic.shoppers(800, seed=123)
        with people.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["customer_id", *synthetic.FEATURES])
            for i in range(later.n):
                writer.writerow([f"b{i}", *later.features[i].tolist()])
        out = tmp_path / "grants.csv"
        batch = runner.invoke(
            cli,
            [
                "recommend-promotions",
                "--tenant",
                "ZZ",
                "--customers",
                str(people),
                "--out",
                str(out),
                "--budget",
                "100",
                "--dry-run",
            ],
            env=env,
        )
        assert batch.exit_code == 0, batch.output
        assert "customers get a promotion" in batch.output
        with out.open() as handle:
            rows = list(csv.DictReader(handle))
        assert rows
        assert sum(float(r["expected_cost"]) for r in rows) <= 100.0

        # Recorded: the grants count; the same customers get nothing more (per-customer limit),
        # and the budget is never overspent.
        recorded = runtime.post(
            "/v1/promotions/recommend", json={**body, "dry_run": False, "budget": None}
        ).json()
        spent = sum(float(g["expected_cost"]) for g in recorded["grants"])
        assert 0 < spent <= 600.0
        again = runtime.post(
            "/v1/promotions/recommend", json={**body, "dry_run": False, "budget": None}
        ).json()
        assert {g["customer_id"] for g in again["grants"]}.isdisjoint(
            {g["customer_id"] for g in recorded["grants"]}
        )
        usage = owner.get("/v1/admin/tenants/ZZ/promotions/usage").json()[0]
        assert float(usage["spent"]) <= 600.0
        assert usage["products"]["P2"]["granted"] <= 5
        assert usage["products"]["P3"]["granted"] == 0


def test_bad_promotions_and_requests_are_422s_naming_the_field(client: TestClient) -> None:
    owner = tenant_api(client, "ZZ")
    runtime = Api(client, create_key(client, "ZZ", "runtime"))
    for promotion, loc in (
        (_promotion(currency="XXY"), ["body", "promotions", 0, "currency"]),
        (_promotion(budget="-1"), ["body", "promotions", 0, "budget"]),
        (_promotion(products=[]), ["body", "promotions", 0, "products"]),
        (_promotion(features=[]), ["body", "promotions", 0, "features"]),
    ):
        response = owner.put("/v1/admin/tenants/ZZ/promotions", json={"promotions": [promotion]})
        assert response.status_code == 422, response.text
        assert any(e[: len(loc)] == loc for e in error_locs(response.json())), response.text
    twice = owner.put(
        "/v1/admin/tenants/ZZ/promotions", json={"promotions": [_promotion(), _promotion()]}
    )
    assert twice.status_code == 422
    for body in ({}, {"customer_id": "a", "customers": ["b"]}, {"customers": ["a", "a"]}):
        response = runtime.post("/v1/promotions/recommend", json=body)
        assert response.status_code == 422, (body, response.text)
