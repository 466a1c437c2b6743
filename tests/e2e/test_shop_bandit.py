"""Shop's conversion model end to end: the offer rules' contextual bandit over offer types starts
from the Beta-Binomial rates (so the ranking is unchanged), searches log the offer types they
showed, orders made from them are the rewards, and after a training round each customer's
conversion probability follows what customers like them ordered."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from offerengine.app import create_app
from offerengine.cli import app as cli
from offerengine.learning.policy import SHOP
from offerengine.settings import Settings
from tests.conftest import make_settings
from tests.e2e.test_shopping import COMFORT, LEGROOM, MEAL
from tests.helpers import (
    FARE,
    Api,
    add_flight,
    create_key,
    error_locs,
    passengers,
    problem,
    tenant_api,
)
from tests.helpers import search as shop_search

WINDOW = 1  # seconds of reward window
WAIT = WINDOW + 2.2  # the window, and the write-behind allowance of a training round
MODEL = {
    "method": "linucb",
    "features": ["profile.tier=GOLD"],
    "reward_window_seconds": WINDOW,
    "warmup": 1,
}
RULES = {
    "max_offers": 2,
    "offer_types": [
        {"type": "FLIGHT_ONLY", "priority": 1, "always_include": True},
        {"type": "COMFORT", "priority": 2, "always_include": True},
    ],
    "ranking_weights": {"conversion_probability": 1, "profit_margin": 0},
}
LIKES = {"GOLD": "COMFORT", "SILVER": "FLIGHT_ONLY"}


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    """Training only when asked; what was learnt read again on every search."""
    return make_settings(
        sqlite_url, tmp_path, learning_train_seconds=0, learning_refresh_seconds=0.001
    )


def _airline(client: TestClient) -> tuple[Api, Api]:
    owner = tenant_api(client, "OE")
    for product in (FARE, LEGROOM, MEAL):
        assert owner.post("/v1/admin/tenants/OE/products", json=product).status_code == 201
    assert owner.post("/v1/admin/tenants/OE/bundles", json=COMFORT).status_code == 201
    add_flight(owner, "OE")
    return owner, Api(client, create_key(client, "OE", "runtime"))


def _search(runtime: Api, tier: str, n: int = 0) -> dict[str, Any]:
    return shop_search(runtime, customer={"id": f"c-{tier}-{n}", "tier": tier})


def _types(result: dict[str, Any]) -> list[str]:
    return [o["offer_type"] for o in result["offers"]]


def _order_and_cancel(runtime: Api, result: dict[str, Any], offer_type: str, key: str) -> None:
    """Order the search's offer of ``offer_type``, then cancel it: the order event is what
    counts, paid or not."""
    offer = next(o for o in result["offers"] if o["offer_type"] == offer_type)
    made = runtime.post(
        "/v1/orders",
        json={"offer_id": offer["offer_id"], "passengers": passengers(1)},
        headers={"Idempotency-Key": key},
    )
    assert made.status_code == 201, made.text
    cancelled = runtime.post(f"/v1/orders/{made.json()['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text


def _train(owner: Api) -> list[dict[str, Any]]:
    response = owner.post("/v1/admin/tenants/OE/models/train")
    assert response.status_code == 200, response.text
    return list(response.json()["rounds"])


def test_the_conversion_model_learns_which_offer_type_each_customer_orders(
    settings: Settings, tmp_path: Path
) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner, runtime = _airline(client)
        assert owner.put("/v1/admin/tenants/OE/offer-rules", json=RULES).status_code == 200
        plain = _search(runtime, "GOLD")
        saved = owner.put(
            "/v1/admin/tenants/OE/offer-rules", json={**RULES, "conversion_model": MODEL}
        )
        assert saved.status_code == 200, saved.text
        assert saved.json()["conversion_model"]["reward"] == "order"

        # Cold start: the Beta-Binomial rate, so the order the rules give without the model.
        cold = _search(runtime, "GOLD")
        assert _types(cold) == _types(plain) == ["FLIGHT_ONLY", "COMFORT"]
        parts = cold["offers"][0]["score_parts"]
        assert parts["conversion_model"]["confidence"] == 0.0
        assert parts["conversion_model"]["version"] is None
        assert parts["conversion_model"]["estimate"] == pytest.approx(
            parts["conversion_probability"]
        )
        assert parts["conversion_model"]["prior"] == pytest.approx(0.05, abs=0.01)

        # Each tier orders its offer type from every search (orders are cancelled at once:
        # what counts is that they were made).
        for n in range(40):
            tier = ("GOLD", "SILVER")[n % 2]
            result = _search(runtime, tier, n)
            _order_and_cancel(runtime, result, LIKES[tier], f"order-{n}")

        time.sleep(WAIT)
        rounds = _train(owner)
        # 41 searches showed two offer types each (the cold one included).
        assert rounds == [
            {"activity_id": str(SHOP), "line": "live", "version": 1, "learnt": 82, "started": True}
        ]

        # Learnt: gold customers are offered COMFORT first, silver ones FLIGHT_ONLY.
        gold = _search(runtime, "GOLD", 99)
        silver = _search(runtime, "SILVER", 99)
        assert _types(gold) == ["COMFORT", "FLIGHT_ONLY"]
        assert _types(silver) == ["FLIGHT_ONLY", "COMFORT"]
        explained = gold["offers"][0]["score_parts"]["conversion_model"]
        assert explained["version"] == 1
        assert explained["confidence"] > 0.5
        assert explained["estimate"] > 0.8

        # The version is listed with the activities' models, arms per offer type.
        models = owner.get("/v1/admin/tenants/OE/models").json()["items"]
        assert [(m["activity_id"], m["line"], m["version"]) for m in models] == [
            (str(SHOP), "live", 1)
        ]
        assert set(models[0]["arms"]) == {"FLIGHT_ONLY", "COMFORT"}
        assert models[0]["decisions_learnt"] == 82
        assert models[0]["reward_total"] == 40

        # A settings change starts version 2 from what version 1 learnt.
        changed = owner.put(
            "/v1/admin/tenants/OE/offer-rules",
            json={**RULES, "conversion_model": {**MODEL, "alpha": 0.5}},
        )
        assert changed.status_code == 200, changed.text
        time.sleep(0.5)
        assert _train(owner)[0]["version"] == 2
        assert _types(_search(runtime, "GOLD", 100)) == ["COMFORT", "FLIGHT_ONLY"]

        report = owner.get("/v1/admin/tenants/OE/models/report", params={"limit": 82})
        lines = report.json()["lines"]
        assert [(r["activity"], r["line"]) for r in lines] == [("shop", "live")]
        assert lines[0]["evaluation"]["n"] == 41

        # The CLI evaluates policies on shop's logs too.
        env = {"OFFERENGINE_DATABASE_URL": settings.database_url}
        evaluated = CliRunner().invoke(
            cli,
            [
                "evaluate-policy",
                *("--tenant", "OE", "--activity", "shop"),
                *("--policy", "priority", "--policy", "model:1"),
            ],
            env=env,
        )
        assert evaluated.exit_code == 0, evaluated.output
        assert re.search(r"policy priority: 4[1-4] logged decisions", evaluated.output)
        assert "policy live v1" in evaluated.output


def test_a_bad_conversion_model_is_refused_naming_the_field(settings: Settings) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner, _ = _airline(client)
        for bad, where in (
            ({**MODEL, "reward": "click"}, "reward"),
            ({**MODEL, "features": ["tier"]}, "features"),
            ({**MODEL, "reward_window_seconds": 0}, "reward_window_seconds"),
        ):
            found = problem(
                owner.put(
                    "/v1/admin/tenants/OE/offer-rules", json={**RULES, "conversion_model": bad}
                ),
                422,
            )
            assert error_locs(found)[0][:3] == ["body", "conversion_model", where]
        assert owner.get("/v1/admin/tenants/OE/offer-rules").json()["conversion_model"] is None


def test_a_shadow_conversion_model_learns_alongside_without_serving(settings: Settings) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner, runtime = _airline(client)
        saved = owner.put(
            "/v1/admin/tenants/OE/offer-rules", json={**RULES, "conversion_shadow": MODEL}
        )
        assert saved.status_code == 200, saved.text

        def serve(n: int, tiers: tuple[str, ...]) -> None:
            for i in range(n):
                tier = tiers[i % len(tiers)]
                result = _search(runtime, tier, i)
                # The Beta-Binomial rates serve: FLIGHT_ONLY first (ties go by priority).
                assert _types(result)[0] == "FLIGHT_ONLY"
                assert "conversion_model" not in result["offers"][0]["score_parts"]
                _order_and_cancel(runtime, result, LIKES[tier], f"order-{tier}-{i}-{n}")

        serve(20, ("GOLD", "SILVER"))
        time.sleep(WAIT)
        assert _train(owner) == [
            {
                "activity_id": str(SHOP),
                "line": "shadow",
                "version": 1,
                "learnt": 40,
                "started": True,
            }
        ]
        # Learnt, the shadow would show gold customers COMFORT first; what is served does not change.
        serve(10, ("GOLD",))
        time.sleep(WAIT)
        report = owner.get("/v1/admin/tenants/OE/models/report").json()["lines"]
        assert [(r["activity"], r["line"]) for r in report] == [("shop", "shadow")]
        # Unlearnt it agreed with the served ranking; learnt, it picks COMFORT for gold customers.
        assert report[0]["agreement"] == {
            "decisions": 30,
            "agreement": pytest.approx(20 / 30, abs=1e-4),
        }
        assert report[0]["evaluation"]["n"] == 30
