"""A campaign's grants in an airline's shop and orders, end to end on SQLite and PostgreSQL: the
searching customer's grant code is taken off the offers it is valid for (and the answer says
why not, per code), the order made from such an offer redeems it in its own transaction and
spends the campaign's budget, once (an idempotent retry redeems nothing more; orders at the
same time of the same grant: one wins, the others are a 409 naming it and change nothing), a
cancelled or expired order gives it back, the campaign's measurement counts the order, and
pricing the offer again keeps its grant."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from offerengine.app import create_app
from offerengine.cli import app as cli
from offerengine.db.engine import create_engine
from offerengine.db.session import write_transaction
from offerengine.learning import synthetic
from offerengine.orders import service as orders
from tests.conftest import make_settings
from tests.e2e.test_promotions import _customers
from tests.helpers import (
    FARE,
    Api,
    add_flight,
    create_key,
    create_tenant,
    departure_day,
    error_locs,
    passengers,
    problem,
)

DISCOUNT = Decimal("25.00")


def _setup(client: TestClient, database_url: str) -> tuple[Api, Api, str, list[dict[str, Any]]]:
    """An airline with a fare and three flights, a promotion's uplift model, a campaign of 25 USD
    grants from a 100 USD spend, and its grants (the treated customers')."""
    create_tenant(client, "OE", kind="airline", base_currency="USD")
    owner = Api(client, create_key(client, "OE", "owner"))
    runtime = Api(client, create_key(client, "OE", "runtime"))
    assert owner.post("/v1/admin/tenants/OE/products", json=FARE).status_code == 201
    for number in ("100", "102", "104"):
        add_flight(owner, "OE", number=number)
    promotion = {
        "code": "FLYBACK",
        "name": "25 off your next trip",
        "currency": "USD",
        "discount": str(DISCOUNT),
        "margin": "60.00",
        "budget": "100000.00",
        "products": [{"code": "ANY", "stock": 100000}],
        "features": list(synthetic.FEATURES),
    }
    put = owner.put("/v1/admin/tenants/OE/promotions", json={"promotions": [promotion]})
    assert put.status_code == 200, put.text
    trained = CliRunner().invoke(
        cli,
        ["train-uplift", "--tenant", "OE", "--promotion", "FLYBACK", "--synthetic", "3000"],
        env={"OFFERENGINE_DATABASE_URL": database_url},
    )
    assert trained.exit_code == 0, trained.output
    now = datetime.now(UTC)
    made = owner.post(
        "/v1/admin/tenants/OE/campaigns",
        json={
            "code": "FLYBACK-DEC",
            "name": "Fly back in December",
            "promotions": ["FLYBACK"],
            "channel": "email",
            "budget": "500.00",
            "min_basket": "100.00",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(),
            "holdout_share": 0.2,
            "grant_days": 14,
        },
    )
    assert made.status_code == 201, made.text
    campaign = made.json()["id"]
    shoppers = synthetic.shoppers(300, seed=5)
    chosen = owner.post(
        f"/v1/admin/campaigns/{campaign}/recommend",
        json={"customers": _customers(shoppers, 0, 300)},
    )
    assert chosen.status_code == 200, chosen.text
    treated = chosen.json()["treated"]
    assert len(treated) >= 3
    return owner, runtime, campaign, treated


def _search(runtime: Api, customer: str | None, codes: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "origin": "JFK",
        "destination": "LHR",
        "date": departure_day(),
        "coupon_codes": codes,
    }
    if customer is not None:
        body["customer"] = {"id": customer}
    found = runtime.post("/v1/offers/search", json=body)
    assert found.status_code == 200, found.text
    return dict(found.json())


def _order(runtime: Api, offer: str, key: str) -> Any:
    body = {"offer_id": offer, "passengers": passengers(1)}
    return runtime.post("/v1/orders", json=body, headers={"Idempotency-Key": key})


def _grant(owner: Api, campaign: str, code: str) -> dict[str, Any]:
    listed = owner.get(f"/v1/admin/campaigns/{campaign}/grants?limit=1000").json()
    return next(g for g in listed if g["code"] == code)


async def _sweep(database_url: str, at: datetime) -> int:
    """The order sweeper's work at ``at``, through an engine of its own."""
    engine = create_engine(database_url)
    sessions = Sessions(
        async_sessionmaker(engine, expire_on_commit=False), "sqlite" in database_url
    )
    try:
        async with write_transaction(sessions) as session:
            return await orders.sweep(session, now=at)
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Sessions:
    session_factory: async_sessionmaker[AsyncSession]
    is_sqlite: bool


def _budget(owner: Api, campaign: str) -> dict[str, Any]:
    return dict(owner.get(f"/v1/admin/campaigns/{campaign}/measurement").json()["budget"])


def test_a_grant_is_taken_off_its_customers_offers_and_says_why_not_otherwise(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        _, runtime, _, treated = _setup(client, database_url)
        code, customer = treated[0]["code"], treated[0]["customer_id"]
        other = treated[1]["customer_id"]

        plain = _search(runtime, customer, [])
        assert "coupons" not in plain
        found = _search(runtime, customer, [code.lower()])
        assert found["coupons"]["rejected"] == []
        [applied] = found["coupons"]["applied"]
        assert applied["code"] == code
        assert len(applied["offers"]) == len(found["offers"]) == 3
        before = {o["flight"]["flight_number"]: o["price"]["total"] for o in plain["offers"]}
        for offer in found["offers"]:
            price = offer["price"]
            total_before = Decimal(price["coupons"]["total_before"])
            assert total_before == Decimal(before[offer["flight"]["flight_number"]])
            assert Decimal(price["total"]) == total_before - DISCOUNT
            [line] = price["coupons"]["applied"]
            assert line["amount"] == "25.00"
            assert line["promotion"] == "FLYBACK"
            assert line["description"] == "25.00 USD off"
            assert sum(Decimal(i["amount"]) for i in line["items"]) == DISCOUNT
            # The stored offer is the offer shown.
            stored = runtime.get(f"/v1/offers/{offer['offer_id']}").json()
            assert stored["price"] == price
        # A journey's offers take it too.
        journey = runtime.post(
            "/v1/offers/search",
            json={
                "slices": [{"origin": "JFK", "destination": "LHR", "date": departure_day()}],
                "customer": {"id": customer},
                "coupon_codes": [code],
            },
        ).json()
        assert journey["offers"]
        for offer in journey["offers"]:
            assert offer["price"]["coupons"]["applied"][0]["amount"] == "25.00"
        # Priced again, the offer keeps its grant.
        again = runtime.post(f"/v1/offers/{found['offers'][0]['offer_id']}/price").json()
        assert again["price_changed"] is False, again
        assert again["offer"]["price"]["coupons"]["applied"][0]["code"] == code

        # Not this customer's, no customer, unknown: not applied, and why, per code.
        why = {
            (c["code"], c["reason"])
            for c in _search(runtime, other, [code, "G-0000000000"])["coupons"]["rejected"]
        }
        assert why == {
            (code, "the coupon is personal to another customer"),
            ("G-0000000000", "no such coupon"),
        }
        anonymous = _search(runtime, None, [code])
        assert anonymous["coupons"]["rejected"][0]["reason"].startswith("the coupon is personal")
        for offer in anonymous["offers"]:
            assert offer["price"]["coupons"]["applied"] == []
            assert offer["price"]["total"] == offer["price"]["coupons"]["total_before"]

        # A malformed code is a 422 naming it.
        bad = runtime.post(
            "/v1/offers/search",
            json={"origin": "JFK", "destination": "LHR", "date": departure_day(),
                  "coupon_codes": ["SAVE;DROP"]},
        )  # fmt: skip
        assert error_locs(problem(bad, 422)) == [["body", "coupon_codes", 0]]


def test_an_order_redeems_the_grant_once_and_a_cancel_or_expiry_gives_it_back(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner, runtime, campaign, treated = _setup(client, database_url)
        code, customer = treated[0]["code"], treated[0]["customer_id"]
        reserved = Decimal(_budget(owner, campaign)["reserved"])
        expected = Decimal(_grant(owner, campaign, code)["expected_cost"])
        offers = _search(runtime, customer, [code])["offers"]

        made = _order(runtime, offers[0]["offer_id"], "grant-order-1")
        assert made.status_code == 201, made.text
        order = made.json()
        assert order["total"] == offers[0]["price"]["total"]
        assert order["price"]["coupons"]["applied"][0]["code"] == code
        grant = _grant(owner, campaign, code)
        assert (grant["status"], grant["order_id"], grant["spent"]) == (
            "REDEEMED",
            order["id"],
            "25.00",
        )
        budget = _budget(owner, campaign)
        assert Decimal(budget["spent"]) == DISCOUNT
        assert Decimal(budget["reserved"]) == reserved - expected

        # The same request again: the same order, nothing redeemed twice.
        again = _order(runtime, offers[0]["offer_id"], "grant-order-1")
        assert again.status_code == 200, again.text
        assert again.json()["id"] == order["id"]
        assert Decimal(_budget(owner, campaign)["spent"]) == DISCOUNT

        # Another offer that showed the grant: it was used meanwhile, a 409 naming it, no order.
        count = len(runtime.get("/v1/orders").json()["items"])
        used = _order(runtime, offers[1]["offer_id"], "grant-order-2")
        assert error_locs(problem(used, 409)) == [["coupons", code]]
        assert len(runtime.get("/v1/orders").json()["items"]) == count
        assert Decimal(_budget(owner, campaign)["spent"]) == DISCOUNT
        # A new search says why it no longer applies.
        rejected = _search(runtime, customer, [code])["coupons"]["rejected"]
        assert rejected == [{"code": code, "reason": "the coupon has been used 1 time, its limit"}]

        # The campaign counts the order (and the redemption).
        measured = owner.get(f"/v1/admin/campaigns/{campaign}/measurement").json()
        assert measured["grants"]["redeemed"] == 1
        assert measured["conversion"]["treated"] > 0

        # Cancelled: the grant is open again, its spend released, its reservation back; once.
        cancelled = runtime.post(f"/v1/orders/{order['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert runtime.post(f"/v1/orders/{order['id']}/cancel").status_code == 200
        grant = _grant(owner, campaign, code)
        assert (grant["status"], grant["order_id"], grant["spent"]) == ("ISSUED", None, None)
        budget = _budget(owner, campaign)
        assert Decimal(budget["spent"]) == 0
        assert Decimal(budget["reserved"]) == reserved
        measured = owner.get(f"/v1/admin/campaigns/{campaign}/measurement").json()
        assert measured["grants"]["redeemed"] == 0
        # And it can be used again.
        offers = _search(runtime, customer, [code])["offers"]
        assert offers[0]["price"]["coupons"]["applied"][0]["code"] == code
        third = _order(runtime, offers[0]["offer_id"], "grant-order-3")
        assert third.status_code == 201, third.text
        assert Decimal(_budget(owner, campaign)["spent"]) == DISCOUNT

        # Its hold expires (the sweeper, two hours on): the grant is given back too.
        assert asyncio.run(_sweep(database_url, datetime.now(UTC) + timedelta(hours=2))) == 1
        assert runtime.get(f"/v1/orders/{third.json()['id']}").json()["status"] == "EXPIRED"
        assert _grant(owner, campaign, code)["status"] == "ISSUED"
        assert Decimal(_budget(owner, campaign)["spent"]) == 0


def test_orders_at_the_same_time_redeem_one_grant_once(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner, runtime, campaign, treated = _setup(client, database_url)
        code, customer = treated[0]["code"], treated[0]["customer_id"]
        offers = _search(runtime, customer, [code])["offers"]
        calls = 6
        with ThreadPoolExecutor(calls) as pool:
            answers = list(
                pool.map(
                    lambda n: _order(runtime, offers[n % len(offers)]["offer_id"], f"race-{n}"),
                    range(calls),
                )
            )
        codes = sorted(a.status_code for a in answers)
        assert codes == [201] + [409] * (calls - 1), [a.text for a in answers]
        for lost in (a for a in answers if a.status_code == 409):
            assert error_locs(problem(lost, 409)) == [["coupons", code]]
        [won] = [a.json() for a in answers if a.status_code == 201]
        assert [o["id"] for o in runtime.get("/v1/orders").json()["items"]] == [won["id"]]
        grant = _grant(owner, campaign, code)
        assert (grant["status"], grant["order_id"]) == ("REDEEMED", won["id"])
        assert Decimal(_budget(owner, campaign)["spent"]) == DISCOUNT
        # The seats the losers tried to hold were never taken.
        held = sum(h["quantity"] for h in won["holds"])
        assert held == 1
