"""Retraining a campaign's uplift model from its own outcomes (issue 33, item 5): a new version
kept with its Qini and the serving version's on held-out members, serving only when better;
versions listed, a rollback to a chosen one, nothing retrained twice from the same outcomes; on
SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from offerengine.app import create_app
from offerengine.cli import app as cli
from offerengine.learning import synthetic
from tests.conftest import make_settings
from tests.e2e.test_campaigns import campaign_body, setup
from tests.e2e.test_promotions import _customers
from tests.e2e.test_webhooks import until
from tests.helpers import Api, error_locs, problem


def test_a_campaign_retrains_its_model_from_its_outcomes_and_rolls_back(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner, runtime = setup(client, database_url)
        made = owner.post("/v1/admin/tenants/QT/campaigns", json=campaign_body(budget="5000.00"))
        assert made.status_code == 201, made.text
        cid = made.json()["id"]
        shoppers = synthetic.shoppers(400, seed=5)
        found = owner.post(
            f"/v1/admin/campaigns/{cid}/recommend", json={"customers": _customers(shoppers, 0, 400)}
        ).json()
        members = found["treated"] + found["holdout"]
        assert len(members) >= 100, found["skipped"]

        # Too few outcomes yet? No: every member is there; outcomes drawn from the known truth.
        rng = np.random.default_rng(3)
        ordered = set()
        codes = {g["customer_id"]: g["code"] for g in found["treated"]}
        for m in members:
            i = int(m["customer_id"][1:])
            treated = m["customer_id"] in codes
            p = shoppers.true_treated[i] if treated else shoppers.true_base[i]
            if rng.random() >= p:
                continue
            ordered.add(m["customer_id"])
            basket = {
                "customer_id": m["customer_id"],
                "items": [{"product_id": "p", "quantity": 2, "unit_price": "40.00"}],
                "delivery_address": {"city": "Istanbul", "country": "TR"},
                "coupon_codes": [codes[m["customer_id"]]] if treated else [],
            }
            quote = runtime.post("/v1/quote", json=basket)
            assert quote.status_code == 200, quote.text
            accepted = runtime.post(f"/v1/quotes/{quote.json()['data']['quote_id']}/accept")
            assert accepted.status_code == 200, accepted.text

        assert problem(owner.post(f"/v1/admin/campaigns/{cid}/retrain?seed=-1"), 422)
        done = owner.post(f"/v1/admin/campaigns/{cid}/retrain")
        assert done.status_code == 200, done.text
        (result,) = done.json()["promotions"]
        assert result["version"] == 2
        assert result["previous_version"] == 1
        assert result["customers"] == len(members)
        assert isinstance(result["qini_model"], float)
        assert isinstance(result["qini_previous"], float)
        better = result["qini_model"] > result["qini_previous"]
        assert result["promoted"] is better
        assert result["serving"] == (2 if better else 1)

        listed = owner.get("/v1/admin/tenants/QT/promotions/SAVE15/models")
        assert listed.status_code == 200, listed.text
        versions = listed.json()
        assert [v["version"] for v in versions] == [2, 1]
        assert [v["serving"] for v in versions] == [better, not better]
        assert versions[0]["qini_previous"] == result["qini_previous"]
        usage = owner.get("/v1/admin/tenants/QT/promotions/usage").json()
        assert usage[0]["model"]["version"] == result["serving"]

        # The same outcomes again: nothing new to learn from, no new version.
        again = owner.post(f"/v1/admin/campaigns/{cid}/retrain").json()["promotions"][0]
        assert again["skipped"] == "no new outcomes since version 2"
        runner = CliRunner()
        env = {"OFFERENGINE_DATABASE_URL": database_url}
        printed = runner.invoke(
            cli, ["retrain-uplift", "--tenant", "QT", "--campaign", "WINBACK"], env=env
        )
        assert printed.exit_code == 0, printed.output
        assert "not retrained (no new outcomes since version 2)" in printed.output
        missing = runner.invoke(
            cli, ["retrain-uplift", "--tenant", "QT", "--campaign", "NOPE"], env=env
        )
        assert missing.exit_code == 2

        # Roll back to (or choose) either kept version; a version not kept is a 404.
        other = 1 if better else 2
        chosen = owner.post(f"/v1/admin/tenants/QT/promotions/SAVE15/models/{other}/serve")
        assert chosen.status_code == 200, chosen.text
        assert [v["serving"] for v in chosen.json()] == [other == 2, other == 1]
        assert (
            owner.get("/v1/admin/tenants/QT/promotions/usage").json()[0]["model"]["version"]
            == other
        )
        assert problem(owner.post("/v1/admin/tenants/QT/promotions/SAVE15/models/9/serve"), 404)
        bad = owner.post("/v1/admin/tenants/QT/promotions/SAVE15/models/0/serve")
        assert error_locs(problem(bad, 422)) == [["path", "version"]]
        assert problem(owner.get("/v1/admin/tenants/QT/promotions/NOPE/models"), 404)
        # The recommendation serves the chosen version.
        served = runtime.post(
            "/v1/promotions/recommend",
            json={"customers": _customers(shoppers, 0, 50), "dry_run": True},
        ).json()
        data = served.get("data", served)
        assert {g["model_version"] for g in data["grants"]} <= {other}
        owner_key, runtime_key = owner.key, runtime.key

    # The server's schedule retrains once there are new outcomes: one more member orders.
    scheduled = make_settings(database_url, tmp_path, uplift_retrain_seconds=0.2)
    with TestClient(create_app(scheduled), raise_server_exceptions=False) as client:
        owner, runtime = Api(client, owner_key), Api(client, runtime_key)
        quiet = next(m["customer_id"] for m in found["holdout"] if m["customer_id"] not in ordered)
        quote = runtime.post(
            "/v1/quote",
            json={
                "customer_id": quiet,
                "items": [{"product_id": "p", "quantity": 2, "unit_price": "40.00"}],
                "delivery_address": {"city": "Istanbul", "country": "TR"},
            },
        )
        assert quote.status_code == 200, quote.text
        assert runtime.post(f"/v1/quotes/{quote.json()['data']['quote_id']}/accept").is_success
        versions = until(
            lambda: owner.get("/v1/admin/tenants/QT/promotions/SAVE15/models").json(),
            lambda found: found[0]["version"] == 3,
        )
        assert versions[0]["source"] == "campaign WINBACK"
        assert versions[0]["ordered"] == result["ordered"] + 1
        assert sum(v["serving"] for v in versions) == 1
