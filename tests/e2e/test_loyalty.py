"""Loyalty end to end over HTTP: a programme as versioned configuration, members, tier benefits
on shop offers and tier prices, points earned on confirm, redeemed when an order pays with them,
given back or taken back on cancel, adjustments, the ledger, and the run-time balance."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth import users
from offerengine.auth.core import Actor, ActorKind, Role
from offerengine.orders import service as orders
from offerengine.settings import Settings
from offerengine.tenants import service as tenants
from offerengine.units import run_in_transaction
from tests.helpers import (
    FARE,
    Api,
    add_flight,
    create_key,
    error_locs,
    passengers,
    problem,
    search,
    tenant_api,
)

PROGRAMME = {
    "code": "SKY",
    "name": "Skyway Miles",
    "currency": "USD",
    "tiers": [
        {"code": "BLUE", "name": "Blue"},
        {
            "code": "GOLD",
            "name": "Gold",
            "benefits": {
                "free_bags": 2,
                "lounge": True,
                "seat_choice": True,
                "bonus_percentage": "50",
            },
        },
    ],
    "earn_rules": [
        {"points_per_unit": "5", "product_type": "FLIGHT"},
        {"points_per_unit": "10", "product_type": "FLIGHT", "cabin": "BUSINESS"},
    ],
    "point_values": [{"currency": "USD", "value": "0.01"}],
    "expiry_months": 24,
}
BASE = "/v1/admin/tenants/OE/loyalty"


@pytest.fixture
def airline(client: TestClient) -> tuple[Api, Api]:
    """An airline with an economy fare, a flight and the Skyway Miles programme."""
    owner = tenant_api(client, "OE")
    assert owner.post("/v1/admin/tenants/OE/products", json=FARE).status_code == 201
    add_flight(owner, "OE")
    made = owner.post(f"{BASE}/programmes", json=PROGRAMME)
    assert made.status_code == 201, made.text
    return owner, Api(client, create_key(client, "OE", "runtime"))


def _enrol(owner: Api, customer: str, tier: str = "GOLD") -> dict[str, Any]:
    made = owner.post(
        f"{BASE}/programmes/SKY/members", json={"customer_id": customer, "tier": tier}
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def _order(runtime: Api, customer: str, key: str, **extra: Any) -> dict[str, Any]:
    found = search(runtime, customer={"id": customer, "tier": "GOLD"})
    offer = found["offers"][0]
    body = {"offer_id": offer["offer_id"], "passengers": passengers(1), **extra}
    made = runtime.post("/v1/orders", json=body, headers={"Idempotency-Key": key})
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_a_programme_is_versioned_configuration_with_checked_references(
    airline: tuple[Api, Api],
) -> None:
    owner, _ = airline
    listed = owner.get(f"{BASE}/programmes").json()["items"]
    assert [p["code"] for p in listed] == ["SKY"]
    programme = listed[0]
    changed = owner.put(
        f"/v1/admin/loyalty/programmes/{programme['id']}",
        json={**PROGRAMME, "expiry_months": 36, "version": 1},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    versions = owner.get(f"/v1/admin/loyalty/programmes/{programme['id']}/versions").json()
    assert len(versions["items"]) == 2
    rolled = owner.post(
        f"/v1/admin/loyalty/programmes/{programme['id']}/rollback", json={"version": 1}
    )
    assert rolled.status_code == 200, rolled.text
    assert (rolled.json()["version"], rolled.json()["expiry_months"]) == (3, 24)
    # An earn rule naming a tier the programme lacks, a currency twice, an unknown currency.
    bad = {
        **PROGRAMME,
        "code": "BAD",
        "currency": "XXQ",
        "earn_rules": [{"points_per_unit": "1", "tier": "PLATINUM"}],
        "point_values": [{"currency": "USD", "value": "1"}, {"currency": "USD", "value": "2"}],
    }
    body = problem(owner.post(f"{BASE}/programmes", json=bad), 422)
    assert ["body", "earn_rules", 0, "tier"] in error_locs(body)
    assert ["body", "point_values", 1, "currency"] in error_locs(body)
    assert ["body", "currency"] in error_locs(body)
    assert problem(owner.post(f"{BASE}/programmes", json=PROGRAMME), 409)
    # A tier members hold cannot be removed; a programme with members is not deleted.
    _enrol(owner, "cust-1")
    only_blue = {**PROGRAMME, "tiers": PROGRAMME["tiers"][:1], "earn_rules": []}
    assert problem(
        owner.put(f"/v1/admin/loyalty/programmes/{programme['id']}", json=only_blue), 409
    )
    assert problem(owner.delete(f"/v1/admin/loyalty/programmes/{programme['id']}"), 409)


def test_members_are_enrolled_once_at_a_tier_of_the_programme(airline: tuple[Api, Api]) -> None:
    owner, _ = airline
    member = _enrol(owner, "cust-1", "BLUE")
    assert (member["tier"], member["balance"]) == ("BLUE", 0)
    again = owner.post(
        f"{BASE}/programmes/SKY/members", json={"customer_id": "cust-1", "tier": "BLUE"}
    )
    assert problem(again, 409)
    wrong = owner.post(f"{BASE}/programmes/SKY/members", json={"customer_id": "c2", "tier": "X"})
    assert error_locs(problem(wrong, 422)) == [["body", "tier"]]
    moved = owner.put(f"{BASE}/programmes/SKY/members/cust-1", json={"tier": "GOLD"})
    assert moved.json()["tier"] == "GOLD"
    _enrol(owner, "cust-2", "BLUE")
    page = owner.get(f"{BASE}/programmes/SKY/members", params={"limit": 1}).json()
    assert [m["customer_id"] for m in page["items"]] == ["cust-1"]
    rest = owner.get(
        f"{BASE}/programmes/SKY/members", params={"limit": 1, "cursor": page["next_cursor"]}
    ).json()
    assert [m["customer_id"] for m in rest["items"]] == ["cust-2"]
    assert rest["next_cursor"] is None
    assert problem(owner.get(f"{BASE}/programmes/SKY/members/nobody"), 404)
    assert problem(owner.get(f"{BASE}/programmes/NOPE/members"), 404)


def test_a_tiers_benefits_show_on_offers_priced_zero_and_tier_prices_apply(
    airline: tuple[Api, Api],
) -> None:
    owner, runtime = airline
    rule = {
        "rule_name": "Gold members pay less",
        "rule_type": "SEGMENT",
        "conditions": {"customer.tier": "GOLD"},
        "adjustments": {"type": "MULTIPLIER", "value": 0.9},
        "priority": 1,
    }
    made = owner.post("/v1/admin/tenants/OE/pricing-rules", json=rule)
    assert made.status_code == 201, made.text
    plain = search(runtime, customer={"id": "c"})["offers"][0]
    gold = search(runtime, passengers={"adults": 2}, customer={"id": "c", "tier": "GOLD"})
    offer = gold["offers"][0]
    benefits = {i["item_id"]: i for i in offer["items"] if "benefit" in i}
    assert set(benefits) == {"benefit-free-bags", "benefit-lounge", "benefit-seat-choice"}
    bags = benefits["benefit-free-bags"]
    assert bags["price"]["total"] == "0.00"
    assert bags["passengers"] == [{"type": "ADULT", "count": 4, "unit_price": "0.00"}]
    assert "2 free checked bags per passenger" in bags["benefit"]["explanation"]
    assert bags["benefit"]["tier"] == "GOLD"
    assert not any("benefit" in i for i in plain["items"])
    fare = offer["items"][0]
    assert fare["pricing"]["steps"][0]["rule_name"] == "Gold members pay less"
    assert fare["passengers"][0]["unit_price"] == "180.00"
    assert plain["items"][0]["passengers"][0]["unit_price"] == "200.00"


def test_an_offers_tier_benefits_are_booked_only_for_a_member_of_that_tier(
    airline: tuple[Api, Api],
) -> None:
    owner, runtime = airline
    _enrol(owner, "blue-1", "BLUE")
    for customer in ("blue-1", "stranger"):
        offer = search(runtime, customer={"id": customer, "tier": "GOLD"})["offers"][0]
        body = {"offer_id": offer["offer_id"], "passengers": passengers(1)}
        refused = runtime.post("/v1/orders", json=body, headers={"Idempotency-Key": customer})
        assert "is not a GOLD member" in problem(refused, 409)["detail"]
    assert runtime.get("/v1/orders").json()["items"] == []
    _enrol(owner, "gold-1", "GOLD")
    assert _order(runtime, "gold-1", "g")["status"] == "HELD"


def test_an_order_earns_on_confirm_and_gives_it_back_on_cancel(airline: tuple[Api, Api]) -> None:
    owner, runtime = airline
    _enrol(owner, "cust-1")
    order = _order(runtime, "cust-1", "o-1")
    confirmed = runtime.post(f"/v1/orders/{order['id']}/confirm", json={"payment_reference": "p"})
    assert confirmed.status_code == 200, confirmed.text
    # 200.00 USD of FLIGHT at 5 points a dollar, and Gold's 50 % bonus.
    member = owner.get(f"{BASE}/programmes/SKY/members/cust-1").json()
    assert (member["balance"], member["earned"]) == (1500, 1500)
    again = runtime.post(f"/v1/orders/{order['id']}/confirm", json={"payment_reference": "p"})
    assert again.status_code == 200
    ledger = owner.get(f"{BASE}/programmes/SKY/members/cust-1/ledger").json()["items"]
    assert [(e["kind"], e["points"]) for e in ledger] == [("earn", 1500)]
    assert ledger[0]["detail"]["base"] == 1000
    assert ledger[0]["detail"]["bonus"] == 500
    assert ledger[0]["expires_at"] is not None
    balance = runtime.get(
        "/v1/loyalty/balance", params={"programme": "SKY", "customer_id": "cust-1"}
    )
    assert balance.status_code == 200, balance.text
    assert balance.json()["balance"] == 1500
    assert balance.json()["expiring_points"] == 1500

    assert runtime.post(f"/v1/orders/{order['id']}/cancel").status_code == 200
    assert runtime.post(f"/v1/orders/{order['id']}/cancel").status_code == 200
    member = owner.get(f"{BASE}/programmes/SKY/members/cust-1").json()
    assert (member["balance"], member["earned"]) == (0, 0)
    ledger = owner.get(f"{BASE}/programmes/SKY/members/cust-1/ledger").json()["items"]
    assert [(e["kind"], e["points"]) for e in ledger] == [("reverse", -1500), ("earn", 1500)]


def test_an_order_pays_with_points_and_a_cancel_gives_them_back(airline: tuple[Api, Api]) -> None:
    owner, runtime = airline
    _enrol(owner, "cust-1")
    added = owner.post(
        f"{BASE}/programmes/SKY/members/cust-1/adjust",
        json={"points": 8000, "reason": "welcome"},
        headers={"Idempotency-Key": "welcome-1"},
    )
    assert added.status_code == 201, added.text
    repeat = owner.post(
        f"{BASE}/programmes/SKY/members/cust-1/adjust",
        json={"points": 8000, "reason": "welcome"},
        headers={"Idempotency-Key": "welcome-1"},
    )
    assert repeat.status_code == 200
    assert repeat.json()["member"]["balance"] == 8000

    pay = {"programme": "SKY", "points": 5000, "use": "discount"}
    order = _order(runtime, "cust-1", "o-1", pay_with_points=pay)
    assert order["price"]["points"]["amount"] == "50.00"
    before = order["price"]["points"]["due"]
    assert order["total"] == before
    member = owner.get(f"{BASE}/programmes/SKY/members/cust-1").json()
    assert member["balance"] == 3000
    # More points than the member has: 409, nothing taken, no order.
    too_many = {"programme": "SKY", "points": 5000, "use": "payment"}
    found = search(runtime, customer={"id": "cust-1", "tier": "GOLD"})["offers"][0]
    body = {"offer_id": found["offer_id"], "passengers": passengers(1), "pay_with_points": too_many}
    assert problem(runtime.post("/v1/orders", json=body, headers={"Idempotency-Key": "o-2"}), 409)
    assert owner.get(f"{BASE}/programmes/SKY/members/cust-1").json()["balance"] == 3000
    # A programme the customer is not in, worth nothing in the currency: 422 naming the field.
    other = {**body, "pay_with_points": {"programme": "NOPE", "points": 10}}
    bad = problem(runtime.post("/v1/orders", json=other, headers={"Idempotency-Key": "o-3"}), 422)
    assert error_locs(bad) == [["body", "pay_with_points", "programme"]]

    assert runtime.post(f"/v1/orders/{order['id']}/cancel").status_code == 200
    assert owner.get(f"{BASE}/programmes/SKY/members/cust-1").json()["balance"] == 8000
    kinds = [
        (e["kind"], e["points"])
        for e in owner.get(f"{BASE}/programmes/SKY/members/cust-1/ledger").json()["items"]
    ]
    assert kinds == [("reverse", 5000), ("redeem", -5000), ("adjust", 8000)]


def test_an_order_whose_hold_expires_gives_its_points_back(
    airline: tuple[Api, Api], client: TestClient
) -> None:
    owner, runtime = airline
    _enrol(owner, "cust-1")
    owner.post(
        f"{BASE}/programmes/SKY/members/cust-1/adjust",
        json={"points": 1000, "reason": "welcome", "key": "w"},
    )
    pay = {"programme": "SKY", "points": 1000, "use": "payment"}
    order = _order(runtime, "cust-1", "o-1", pay_with_points=pay)
    assert order["price"]["points"]["due"] != order["total"]  # paid in part: the total stays
    assert owner.get(f"{BASE}/programmes/SKY/members/cust-1").json()["balance"] == 0
    context = client.app.state.context  # type: ignore[attr-defined]

    async def sweep(at: datetime) -> int:
        async with context.session_factory() as session:
            if context.is_sqlite:
                await session.connection(execution_options={"sqlite_immediate": True})
            count = await orders.sweep(session, now=at)
            await session.commit()
        return count

    assert asyncio.run(sweep(datetime.now(UTC) + timedelta(hours=2))) == 1
    assert runtime.get(f"/v1/orders/{order['id']}").json()["status"] == "EXPIRED"
    assert owner.get(f"{BASE}/programmes/SKY/members/cust-1").json()["balance"] == 1000
    ledger = owner.get(f"{BASE}/programmes/SKY/members/cust-1/ledger").json()["items"]
    assert [e["kind"] for e in ledger] == ["reverse", "redeem", "adjust"]


def test_a_negative_adjustment_never_takes_the_balance_below_zero(
    airline: tuple[Api, Api],
) -> None:
    owner, _ = airline
    _enrol(owner, "cust-1")
    path = f"{BASE}/programmes/SKY/members/cust-1/adjust"
    taken = owner.post(
        path, json={"points": -1, "reason": "oops"}, headers={"Idempotency-Key": "a"}
    )
    assert problem(taken, 409)
    assert problem(owner.post(path, json={"points": 5, "reason": "x"}), 422)  # no key
    swept = owner.post(f"{BASE}/expire", json={})
    assert swept.json() == {"expired_entries": 0, "expired_points": 0}


def test_the_loyalty_page_shows_the_tiers_the_members_and_a_members_ledger(
    airline: tuple[Api, Api], client: TestClient, settings: Settings
) -> None:
    owner, _ = airline
    _enrol(owner, "cust-1")
    owner.post(
        f"{BASE}/programmes/SKY/members/cust-1/adjust",
        json={"points": 250, "reason": "goodwill", "key": "k-1"},
    )

    async def add_user(session: AsyncSession) -> None:
        found = await tenants.find(session, "OE")
        assert found is not None
        await users.create_user(
            session,
            tenant_id=found.id,
            email="own@oe.example",
            role=Role.OWNER,
            password="a long enough password",
            actor=Actor(ActorKind.SYSTEM, None, "test"),
        )

    asyncio.run(run_in_transaction(settings, add_user))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/login").text)
    assert token
    done = client.post(
        "/admin/login",
        data={
            "email": "own@oe.example",
            "password": "a long enough password",
            "csrf_token": token.group(1),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    page = client.get("/admin/loyalty", params={"customer": "cust-1"})
    assert page.status_code == 200, page.text[:500]
    text = html.unescape(page.text)
    assert "Skyway Miles" in text
    assert "GOLD: Gold" in text
    assert "<strong>250</strong> points" in text
    assert "goodwill" in text
    assert "Adjust the balance" in text
    assert "NOPE" in html.unescape(client.get("/admin/loyalty?programme=NOPE").text)
    listing = client.get("/admin/loyalty-programmes")
    assert listing.status_code == 200
    assert "SKY" in listing.text
