"""Campaigns end to end: a versioned campaign with a holdout, grants as personal coupons that
POST /v1/quote takes for their customer only, redeemed on acceptance (budget spent, once), and
the measured uplift; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from offerengine.app import create_app
from offerengine.cli import app as cli
from offerengine.learning import synthetic
from tests.conftest import make_settings
from tests.e2e.test_promotions import _customers
from tests.helpers import Api, create_key, create_tenant, error_locs, problem


def _promotion() -> dict[str, Any]:
    return {
        "code": "SAVE15",
        "name": "15 off",
        "currency": "TRY",
        "discount": "15.00",
        "margin": "30.00",
        "budget": "100000.00",
        "products": [{"code": "P0", "stock": 100000}],
        "features": list(synthetic.FEATURES),
    }


def campaign_body(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "code": "WINBACK",
        "name": "Win back the browsers",
        "promotions": ["SAVE15"],
        "channel": "email",
        "budget": "60.00",
        "min_basket": "50.00",
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        "holdout_share": 0.3,
        "grant_days": 7,
        **changes,
    }


def _basket(customer: str | None, code: str, price: str = "40.00") -> dict[str, Any]:
    return {
        **({"customer_id": customer} if customer else {}),
        "items": [{"product_id": "p", "quantity": 2, "unit_price": price}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "coupon_codes": [code],
    }


def setup(client: TestClient, database_url: str) -> tuple[Api, Api]:
    create_tenant(client, "QT", kind="marketplace", base_currency="TRY")
    owner = Api(client, create_key(client, "QT", "owner"))
    runtime = Api(client, create_key(client, "QT", "runtime"))
    put = owner.put("/v1/admin/tenants/QT/promotions", json={"promotions": [_promotion()]})
    assert put.status_code == 200, put.text
    trained = CliRunner().invoke(
        cli,
        ["train-uplift", "--tenant", "QT", "--promotion", "SAVE15", "--synthetic", "3000"],
        env={"OFFERENGINE_DATABASE_URL": database_url},
    )
    assert trained.exit_code == 0, trained.output
    return owner, runtime


def test_a_campaign_grants_personal_coupons_holds_out_and_measures(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner, runtime = setup(client, database_url)

        # Bad input names the field and saves nothing.
        bad = owner.post(
            "/v1/admin/tenants/QT/campaigns",
            json=campaign_body(promotions=["NOPE"], budget="1.001", audience={"rule": "x >"}),
        )
        assert {
            ("body", "promotions", 0),
            ("body", "budget"),
            ("body", "audience", "rule"),
        } <= {tuple(loc) for loc in error_locs(problem(bad, 422))}
        assert owner.get("/v1/admin/tenants/QT/campaigns").json()["items"] == []

        made = owner.post("/v1/admin/tenants/QT/campaigns", json=campaign_body())
        assert made.status_code == 201, made.text
        campaign = made.json()
        assert campaign["currency"] == "TRY"
        assert campaign["version"] == 1
        changed = owner.put(
            f"/v1/admin/campaigns/{campaign['id']}",
            json={**campaign_body(name="Win back"), "version": 1},
        )
        assert changed.status_code == 200
        assert changed.json()["version"] == 2
        versions = owner.get(f"/v1/admin/campaigns/{campaign['id']}/versions").json()
        assert len(versions["items"] if isinstance(versions, dict) else versions) == 2

        shoppers = synthetic.shoppers(600, seed=41)
        body = {"customers": _customers(shoppers, 0, 600)}
        dry = owner.post(
            f"/v1/admin/campaigns/{campaign['id']}/recommend", json={**body, "dry_run": True}
        )
        assert dry.status_code == 200, dry.text
        assert dry.json()["budget"]["reserved"] == "0.00"

        found = owner.post(f"/v1/admin/campaigns/{campaign['id']}/recommend", json=body).json()
        treated, holdout = found["treated"], found["holdout"]
        assert treated
        assert holdout
        reserved = sum(float(g["expected_cost"]) for g in treated)
        assert float(found["budget"]["reserved"]) == round(reserved, 2) <= 60.0
        # Sticky: asking again targets nobody twice, and the held out are never granted.
        again = owner.post(f"/v1/admin/campaigns/{campaign['id']}/recommend", json=body).json()
        assert again["skipped"]["already in the campaign"] == len(treated) + len(holdout)
        first_ids = {g["customer_id"] for g in treated + holdout}
        assert not first_ids & {g["customer_id"] for g in again["treated"] + again["holdout"]}
        granted = {g["customer_id"] for g in treated + again["treated"]}
        held_out = {h["customer_id"] for h in holdout + again["holdout"]}
        listed = owner.get(f"/v1/admin/campaigns/{campaign['id']}/grants").json()
        assert {g["customer_id"] for g in listed} == granted
        assert not granted & held_out
        assert float(again["budget"]["reserved"]) <= 60.0
        treated, holdout = treated + again["treated"], holdout + again["holdout"]
        reserved = float(again["budget"]["reserved"])
        grant, other = treated[0], treated[1]
        code, customer = grant["code"], grant["customer_id"]
        # Another customer's code, or none: 422 naming the coupon_codes entry.
        stolen = runtime.post("/v1/quote", json=_basket(other["customer_id"], code))
        assert error_locs(problem(stolen, 422)) == [["body", "coupon_codes", 0]]
        assert "another customer" in stolen.text
        anonymous = runtime.post("/v1/quote", json=_basket(None, code))
        assert error_locs(problem(anonymous, 422)) == [["body", "coupon_codes", 0]]
        # Under the minimum basket: quoted, the coupon rejected with why.
        small = runtime.post("/v1/quote", json=_basket(customer, code, "20.00")).json()["data"]
        assert small["coupons"]["applied"] == []
        assert "at least" in small["coupons"]["rejected"][0]["reason"]

        first = runtime.post("/v1/quote", json=_basket(customer, code)).json()["data"]
        assert first["coupons"]["applied"][0]["code"] == code
        assert first["coupons"]["applied"][0]["amount"] == "15.00"
        second = runtime.post("/v1/quote", json=_basket(customer, code, "41.00")).json()["data"]
        accepted = runtime.post(f"/v1/quotes/{first['quote_id']}/accept")
        assert accepted.status_code == 200, accepted.text
        # One use: the other quote applying it cannot be accepted, and changes nothing.
        twice = runtime.post(f"/v1/quotes/{second['quote_id']}/accept")
        assert error_locs(problem(twice, 409)) == [["coupons", code]]
        assert runtime.get(f"/v1/quotes/{second['quote_id']}").json()["data"]["status"] == "QUOTED"
        later = runtime.post("/v1/quote", json=_basket(customer, code, "42.00")).json()["data"]
        assert "limit" in later["coupons"]["rejected"][0]["reason"]

        redeemed = owner.get(
            f"/v1/admin/campaigns/{campaign['id']}/grants", params={"status": "REDEEMED"}
        ).json()
        assert [(g["code"], g["spent"], g["quote_id"]) for g in redeemed] == [
            (code, "15.00", first["quote_id"])
        ]
        # A held-out customer orders too (no coupon): an outcome of the other arm.
        plain = runtime.post(
            "/v1/quote", json={**_basket(holdout[0]["customer_id"], code), "coupon_codes": []}
        ).json()["data"]
        assert runtime.post(f"/v1/quotes/{plain['quote_id']}/accept").status_code == 200

        measured = owner.get(f"/v1/admin/campaigns/{campaign['id']}/measurement").json()
        assert measured["members"] == {"treated": len(treated), "holdout": len(holdout)}
        assert measured["grants"]["granted"] == len(treated)
        assert measured["grants"]["redeemed"] == 1
        assert measured["grants"]["redemption_rate"] == round(1 / len(treated), 4)
        assert measured["conversion"]["treated"] == round(1 / len(treated), 4)
        assert measured["conversion"]["holdout"] == round(1 / len(holdout), 4)
        assert measured["budget"]["spent"] == "15.00"
        assert float(measured["budget"]["reserved"]) == round(
            reserved - float(grant["expected_cost"]), 2
        )
        assert 1 <= len(measured["deciles"]) <= 10
        assert sum(d["treated"] + d["holdout"] for d in measured["deciles"]) == len(treated) + len(
            holdout
        )


def test_a_campaigns_audience_keeps_its_segment_and_rule_and_a_rollback_restores_it(
    client: TestClient,
) -> None:
    owner, _ = setup(client, client.app.state.settings.database_url)  # type: ignore[attr-defined]
    segments = owner.put(
        "/v1/admin/tenants/QT/segments",
        json={"segments": [{"name": "browsers", "condition": "profile.views >= 10"}]},
    )
    assert segments.status_code == 200, segments.text
    audience = {"segment": "browsers", "rule": "profile.sessions >= 3"}
    made = owner.post(
        "/v1/admin/tenants/QT/campaigns",
        json=campaign_body(audience=audience, budget="100000.00", holdout_share=0.0),
    ).json()
    shoppers = synthetic.shoppers(300, seed=8)
    views = shoppers.features[:, synthetic.FEATURES.index("views")]
    sessions = shoppers.features[:, synthetic.FEATURES.index("sessions")]
    inside = {f"c{i}" for i in range(300) if views[i] >= 10 and sessions[i] >= 3}
    assert 0 < len(inside) < 300
    found = owner.post(
        f"/v1/admin/campaigns/{made['id']}/recommend",
        json={"customers": _customers(shoppers, 0, 300), "dry_run": True},
    ).json()
    assert found["skipped"]["not in the audience"] == 300 - len(inside)
    assert found["treated"]
    assert {g["customer_id"] for g in found["treated"]} <= inside
    assert found["holdout"] == []  # a share of 0 holds nobody out
    assert all("code" not in g for g in found["treated"])  # a dry run grants nothing

    renamed = owner.put(
        f"/v1/admin/campaigns/{made['id']}",
        json=campaign_body(audience=audience, budget="100000.00", holdout_share=0.0, name="v2"),
    )
    assert renamed.json()["version"] == 2
    back = owner.post(f"/v1/admin/campaigns/{made['id']}/rollback", json={"version": 1})
    assert back.status_code == 200, back.text
    restored = owner.get(f"/v1/admin/campaigns/{made['id']}").json()
    assert (restored["name"], restored["version"]) == ("Win back the browsers", 3)
    assert restored["audience"] == audience
