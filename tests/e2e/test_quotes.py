"""Quotes and commissions through the HTTP API: configuration checked when saved, versions that
take effect later, seed 002's request and response, stored quotes, acceptance, analytics."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.commerce.cache import QuoteCache
from tests.conftest import make_settings
from tests.helpers import Api, create_key, error_locs, problem, tenant_api

BASE = "/v1/admin/tenants/MK"
# Seed 002's example request, as written (numbers as JSON numbers, its ids, its context).
SEED_REQUEST: dict[str, Any] = {
    "customer_id": "uuid",
    "seller_id": "uuid",
    "items": [
        {
            "product_id": "uuid",
            "variant_id": "uuid",
            "quantity": 2,
            "unit_price": 25.50,
            "category_id": "uuid",
            "tags": ["electronics", "mobile"],
            "weight": 0.5,
        }
    ],
    "delivery_address": {
        "street": "Istiklal Caddesi 123",
        "city": "Istanbul",
        "district": "Beyoğlu",
        "country": "TR",
        "latitude": 41.0082,
        "longitude": 28.9784,
    },
    "pickup_address": {
        "street": "Seller Address",
        "city": "Istanbul",
        "district": "Kadıköy",  # noqa: RUF001 - the seed's Turkish spelling
        "country": "TR",
        "latitude": 41.0186,
        "longitude": 29.0023,
    },
    "is_express_delivery": True,
    "coupon_codes": ["SAVE20"],
    "currency": "TRY",
    "context": {
        "user_agent": "Mozilla/5.0...",
        "ip_address": "192.168.1.1",
        "session_id": "session_123",
        "ab_test_group": "group_a",
    },
}


def flush(client: Any) -> None:
    """Write what the app holds behind its responses now (quotes are stored in batches)."""
    client.portal.call(client.app.state.context.recorder.flush)


def _made(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


@pytest.fixture
def owner(client: TestClient) -> Api:
    return tenant_api(
        client, "MK", kind="marketplace", base_currency="TRY", timezone="Europe/Istanbul"
    )


@pytest.fixture
def runtime(client: TestClient, owner: Api) -> Api:
    return Api(client, create_key(client, "MK", "runtime"))


@pytest.fixture
def market(owner: Api) -> dict[str, Any]:
    """Seed 002's example configuration: its commission rate and express rule as written, with
    a delivery fee, distance bands, VAT and the SAVE20 coupon."""
    return {
        "rate": _made(
            owner.post(
                f"{BASE}/commission-rates",
                json={
                    "category_id": "uuid",
                    "seller_id": "uuid",
                    "commission_type": "PERCENTAGE",
                    "rate": 12.50,
                    "min_amount": 5.00,
                    "max_amount": 100.00,
                    "currency": "TRY",
                    "region": "Istanbul",
                    "effective_from": "2025-01-01T00:00:00Z",
                    "priority": 200,
                },
            )
        ),
        "category": _made(
            owner.post(
                f"{BASE}/commission-rates",
                json={"commission_type": "PERCENTAGE", "rate": "1.5", "category": "uuid"},
            )
        ),
        "express": _made(
            owner.post(
                f"{BASE}/fee-rules",
                json={
                    "name": "Istanbul Express Delivery",
                    "type": "EXPRESS_FEE",
                    "configuration": {
                        "base_fee": 15.00,
                        "multiplier": 1.5,
                        "max_fee": 50.00,
                        "distance_factor": 2.0,
                    },
                    "region": "Istanbul",
                    "effective_from": "2025-01-01T00:00:00Z",
                },
            )
        ),
        "delivery": _made(
            owner.post(
                f"{BASE}/fee-rules",
                json={
                    "name": "Delivery",
                    "type": "DELIVERY_FEE",
                    "configuration": {"base_fee": "20.00"},
                },
            )
        ),
        "vat": _made(
            owner.post(
                f"{BASE}/fee-rules",
                json={
                    "name": "VAT",
                    "type": "TAX",
                    "region": "TR",
                    "configuration": {"rate": "18"},
                },
            )
        ),
        "coupon": _made(
            owner.post(
                f"{BASE}/coupons",
                json={
                    "code": "SAVE20",
                    "type": "PERCENTAGE",
                    "value": 20,
                    "max_discount": "100.00",
                },
            )
        ),
    }


def _quote(runtime: Api, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = runtime.post("/v1/quote", json=body or SEED_REQUEST)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_seed_request_as_written_gets_a_coherent_fully_explained_quote(
    market: dict[str, Any], runtime: Api
) -> None:
    answer = _quote(runtime)
    assert answer["success"] is True
    assert answer["processing_time_ms"] >= 0
    data = answer["data"]
    # 2 × 25.50 = 51.00; SAVE20 takes 10.20; VAT 18% of 40.80 = 7.34; delivery 20.00; express
    # 20.00 × 1.5 + 15.00 + 2.0 × 2.315 km = 49.63 (under the 50.00 cap): 29.63 on top.
    assert {k: data[k] for k in ("subtotal", "discount_amount", "tax_amount", "delivery_fee")} == {
        "subtotal": "40.80",
        "discount_amount": "10.20",
        "tax_amount": "7.34",
        "delivery_fee": "49.63",
    }
    assert data["small_basket_fee"] == "0.00"
    assert data["total_amount"] == "97.77"
    steps = data["pricing_breakdown"]["calculations"]
    assert [s["step"] for s in steps] == [
        "item_total",
        "coupon",
        "tax",
        "delivery_fee",
        "express_fee",
    ]
    assert sum(Decimal(s["amount"]) for s in steps) == Decimal(data["total_amount"])
    assert steps[-1]["running_total"] == data["total_amount"]
    express = next(s for s in steps if s["step"] == "express_fee")
    assert express["rule_id"] == market["express"]["id"]
    assert express["rule_version"] == 1
    # Commission: the seed's rate (12.5% of 51.00 = 6.38, within its 5.00–100.00) for the
    # seller, 1.5% for the category; no logistics rate.
    breakdown = data["commission_breakdown"]
    assert (breakdown["seller_commission"], breakdown["category_commission"]) == ("6.38", "0.77")
    assert breakdown["logistics_commission"] == "0.00"
    assert breakdown["total_commission"] == "7.15"
    assert {(d["component"], d["rate_id"], d["rate_version"]) for d in breakdown["details"]} == {
        ("seller", market["rate"]["id"], 1),
        ("category", market["category"]["id"], 1),
    }
    applied = {(r["id"], r["type"], r["version"]) for r in data["applied_rules"]}
    assert (market["express"]["id"], "EXPRESS_FEE", 1) in applied
    assert (market["coupon"]["id"], "COUPON_PERCENTAGE", 1) in applied
    assert data["coupons"]["applied"][0]["code"] == "SAVE20"
    assert datetime.fromisoformat(data["valid_until"]) - datetime.fromisoformat(
        data["created_at"]
    ) == timedelta(minutes=15)


def test_an_identical_request_gets_the_stored_quote_and_any_change_a_new_one(
    market: dict[str, Any], runtime: Api, owner: Api
) -> None:
    first = _quote(runtime)["data"]
    again = _quote(runtime)
    assert again["data"]["quote_id"] == first["quote_id"]
    assert again["message"].startswith("The stored quote")
    # Coupons and the pickup address are part of the request's hash (seed 002's cache key was not).
    for change in (
        {"coupon_codes": []},
        {"pickup_address": {**SEED_REQUEST["pickup_address"], "latitude": 41.05}},
        {"is_express_delivery": False},
    ):
        other = _quote(runtime, {**SEED_REQUEST, **change})["data"]
        assert other["quote_id"] != first["quote_id"], change
    # A configuration change makes a new quote: the price may have changed.
    owner.put(
        f"/v1/admin/fee-rules/{market['delivery']['id']}",
        json={"name": "Delivery", "type": "DELIVERY_FEE", "configuration": {"base_fee": "10.00"}},
    )
    changed = _quote(runtime)["data"]
    assert changed["quote_id"] != first["quote_id"]
    assert changed["config_version"] > first["config_version"]
    fetched = runtime.get(f"/v1/quotes/{first['quote_id']}").json()["data"]
    assert fetched == {**first, "status": "QUOTED"}


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"items": []}, ["body", "items"]),
        ({"currency": "XYZ"}, ["body", "currency"]),
        ({"coupon_codes": ["NOPE"]}, ["body", "coupon_codes", 0]),
        (
            {"items": [{**SEED_REQUEST["items"][0], "quantity": -1}]},
            ["body", "items", 0, "quantity"],
        ),
        (
            {"items": [{**SEED_REQUEST["items"][0], "unit_price": "25.505"}]},
            ["body", "items", 0, "unit_price"],
        ),
        (
            {"delivery_address": {**SEED_REQUEST["delivery_address"], "latitude": 123}},
            ["body", "delivery_address", "latitude"],
        ),
        (
            {"delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0}},
            ["body", "delivery_address"],
        ),
        ({"surprise": True}, ["body", "surprise"]),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(
    market: dict[str, Any], runtime: Api, owner: Api, change: dict[str, Any], loc: list[Any]
) -> None:
    body = problem(runtime.post("/v1/quote", json={**SEED_REQUEST, **change}), 422)
    assert error_locs(body)[0][: len(loc)] == loc
    flush(owner.client)
    assert owner.get("/v1/analytics/pricing").json()["quoted"] == []


def test_express_where_it_is_not_offered_is_a_422(market: dict[str, Any], runtime: Api) -> None:
    elsewhere = {**SEED_REQUEST, "delivery_address": {"city": "Ankara", "country": "TR"}}
    body = problem(runtime.post("/v1/quote", json=elsewhere), 422)
    assert error_locs(body) == [["body", "is_express_delivery"]]
    assert "not offered to Ankara" in body["detail"]


def test_accepting_counts_coupon_uses_within_their_limits_all_or_nothing(
    market: dict[str, Any], runtime: Api, owner: Api
) -> None:
    coupon = market["coupon"]
    owner.put(
        f"/v1/admin/coupons/{coupon['id']}",
        json={
            **{k: coupon[k] for k in ("code", "type", "value", "max_discount")},
            "usage_limit_total": 1,
        },
    )
    first = _quote(runtime)["data"]
    second = _quote(runtime, {**SEED_REQUEST, "customer_id": "someone-else"})["data"]
    # Quoting never uses a coupon up.
    assert owner.get(f"/v1/admin/coupons/{coupon['id']}").json()["used"] == 0
    accepted = runtime.post(f"/v1/quotes/{first['quote_id']}/accept", json={"reference": "order-1"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["data"]["status"] == "ACCEPTED"
    assert accepted.json()["data"]["accepted_at"] is not None
    # Accepting again is the same answer, and counts nothing more.
    assert (
        runtime.post(f"/v1/quotes/{first['quote_id']}/accept").json()["data"]["status"]
        == "ACCEPTED"
    )
    assert owner.get(f"/v1/admin/coupons/{coupon['id']}").json()["used"] == 1
    # The other quote promised the coupon too; its limit is reached now: 409, nothing accepted.
    refused = problem(runtime.post(f"/v1/quotes/{second['quote_id']}/accept"), 409)
    assert "SAVE20" in refused["detail"]
    assert runtime.get(f"/v1/quotes/{second['quote_id']}").json()["data"]["status"] == "QUOTED"
    assert owner.get(f"/v1/admin/coupons/{coupon['id']}").json()["used"] == 1
    # A new quote says why the coupon no longer applies.
    later = _quote(runtime, {**SEED_REQUEST, "customer_id": "third"})["data"]
    assert later["coupons"]["rejected"] == [
        {"code": "SAVE20", "reason": "the coupon has been used 1 time, its limit"}
    ]


def test_a_quote_past_its_validity_reads_expired_and_cannot_be_accepted(
    market: dict[str, Any], runtime: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _quote(runtime)["data"]
    later = datetime.now(UTC) + timedelta(minutes=16)
    monkeypatch.setattr("offerengine.commerce.router.utcnow", lambda: later)
    assert runtime.get(f"/v1/quotes/{made['quote_id']}").json()["data"]["status"] == "EXPIRED"
    problem(runtime.post(f"/v1/quotes/{made['quote_id']}/accept"), 410)
    # And an identical request now gets a new quote.
    assert _quote(runtime)["data"]["quote_id"] != made["quote_id"]
    problem(runtime.get("/v1/quotes/00000000-0000-4000-8000-000000000000"), 404)


def test_a_version_scheduled_for_later_leaves_the_current_one_in_force(
    market: dict[str, Any], runtime: Api, owner: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = market["delivery"]
    start = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    scheduled = owner.put(
        f"/v1/admin/fee-rules/{rule['id']}",
        json={
            "name": "Delivery",
            "type": "DELIVERY_FEE",
            "configuration": {"base_fee": "25.00"},
            "effective_from": start.isoformat(),
        },
    )
    assert scheduled.json()["version"] == 2
    versions = owner.get(f"{BASE}/fee-rules/versions", params={"name": "Delivery"}).json()
    assert versions["in_force_version"] == 1
    assert [(v["version"], v["in_force"]) for v in versions["items"]] == [(1, True), (2, False)]
    delivery = {**SEED_REQUEST, "is_express_delivery": False, "coupon_codes": []}

    def fee() -> str:
        steps = _quote(runtime, delivery)["data"]["pricing_breakdown"]["calculations"]
        found = next(s for s in steps if s["step"] == "delivery_fee")
        return f"{found['amount']} v{found['rule_version']}"

    assert fee() == "20.00 v1"
    monkeypatch.setattr("offerengine.commerce.router.utcnow", lambda: start + timedelta(hours=1))
    assert fee() == "25.00 v2"
    problem(owner.get(f"{BASE}/fee-rules/versions", params={"name": "Nope"}), 422)


def test_configuration_is_checked_when_saved(owner: Api, market: dict[str, Any]) -> None:
    cases = [
        ("commission-rates", {"commission_type": "TIERED", "rate": "5"}, ["body"]),
        ("commission-rates", {"commission_type": "FLAT", "rate": "2.555"}, ["body", "rate"]),
        ("commission-rates", {"commission_type": "PERCENTAGE", "rate": "101"}, ["body"]),
        (
            "commission-rates",
            {"commission_type": "PERCENTAGE", "rate": "5", "flag": "no-such-flag"},
            ["body", "flag"],
        ),
        (
            "commission-rates",
            {
                "commission_type": "TIERED",
                "tiers": [{"up_to": None, "rate": 1}, {"up_to": 5, "rate": 2}],
            },
            ["body"],
        ),
        (
            "fee-rules",
            {"name": "X", "type": "DELIVERY_FEE", "configuration": {}},
            ["body", "configuration", "base_fee"],
        ),
        (
            "fee-rules",
            {
                "name": "X",
                "type": "DISTANCE_FEE",
                "configuration": {"bands": [{"up_to_km": 9, "fee": "1.001"}]},
            },
            ["body", "configuration", "bands", 0, "fee"],
        ),
        (
            "fee-rules",
            {
                "name": "X",
                "type": "DELIVERY_FEE",
                "category": "c",
                "configuration": {"base_fee": 1},
            },
            ["body"],
        ),
        ("coupons", {"code": "X1", "type": "FREE_DELIVERY", "value": 5}, ["body"]),
        ("coupons", {"code": "X1", "type": "FIXED", "value": "5.123"}, ["body", "value"]),
    ]
    for kind, body, loc in cases:
        found = problem(owner.post(f"{BASE}/{kind}", json=body), 422)
        assert error_locs(found)[0][: len(loc)] == loc, (kind, body, found)
    problem(owner.post(f"{BASE}/coupons", json={"code": "save20", "type": "FREE_DELIVERY"}), 409)
    problem(
        owner.post(
            f"{BASE}/fee-rules",
            json={"name": "VAT", "type": "TAX", "configuration": {"rate": "1"}},
        ),
        409,
    )


def test_bulk_rates_are_all_or_nothing_with_every_bad_row_named(
    owner: Api, market: dict[str, Any]
) -> None:
    rate = market["category"]
    rows = [
        {"commission_type": "PERCENTAGE", "rate": "3", "seller_id": "s-new"},
        {"id": rate["id"], "commission_type": "PERCENTAGE", "rate": "2", "category": "uuid"},
        {"commission_type": "FLAT", "rate": "1.001"},
        {
            "id": "00000000-0000-4000-8000-000000000000",
            "commission_type": "PERCENTAGE",
            "rate": "1",
        },
    ]
    body = problem(owner.put(f"{BASE}/commission-rates/bulk", json={"rates": rows}), 422)
    assert error_locs(body) == [["body", "rates", 2, "rate"], ["body", "rates", 3, "id"]]
    assert len(owner.get(f"{BASE}/commission-rates").json()["items"]) == 2
    done = owner.put(f"{BASE}/commission-rates/bulk", json={"rates": rows[:2]}).json()
    assert len(done["created"]) == 1
    assert done["updated"] == [rate["id"]]
    assert owner.get(f"/v1/admin/commission-rates/{rate['id']}").json()["rate"] == "2"
    history = owner.get(f"/v1/admin/commission-rates/{rate['id']}/versions").json()
    assert [v["version"] for v in history["items"]] == [1, 2]
    # The list filters by exact values and pages.
    sellers = owner.get(f"{BASE}/commission-rates", params={"seller_id": "s-new"}).json()
    assert [r["seller_id"] for r in sellers["items"]] == ["s-new"]
    first = owner.get(f"{BASE}/commission-rates", params={"limit": 2}).json()
    rest = owner.get(
        f"{BASE}/commission-rates", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert len(first["items"]) == 2
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    # Rolling back makes a new version equal to the old one.
    rolled = owner.post(f"/v1/admin/commission-rates/{rate['id']}/rollback", json={"version": 1})
    assert rolled.json()["rate"] == "1.5"
    assert rolled.json()["version"] == 3


def test_flags_tagged_quote_are_evaluated_for_the_customer_and_drive_express(
    market: dict[str, Any], runtime: Api, owner: Api
) -> None:
    _made(
        owner.post(
            f"{BASE}/feature-flags",
            json={
                "key": "dynamic_pricing",
                "name": "Dynamic Pricing",
                "type": "BOOLEAN",
                "value": True,
                "default_value": False,
                "is_enabled": True,
                "tags": ["quote"],
                "rollout": {"percentage": 100, "regions": ["Istanbul", "Ankara"]},
            },
        )
    )
    _made(
        owner.post(
            f"{BASE}/feature-flags",
            json={
                "key": "express_delivery_multiplier",
                "name": "Express multiplier",
                "type": "NUMBER",
                "value": 1.2,
                "default_value": 1.2,
                "is_enabled": True,
            },
        )
    )
    express = market["express"]
    body = {k: express[k] for k in ("name", "type", "region", "effective_from")}
    body["configuration"] = {
        **express["configuration"],
        "multiplier_flag": "express_delivery_multiplier",
    }
    _made(owner.put(f"/v1/admin/fee-rules/{express['id']}", json=body))
    data = _quote(runtime)["data"]
    assert data["feature_flags"] == {"dynamic_pricing": True, "express_delivery_multiplier": 1.2}
    step = next(s for s in data["pricing_breakdown"]["calculations"] if s["step"] == "express_fee")
    # 20.00 × 1.2 + 15.00 + 2.0 × 2.315 = 43.63: the flag's multiplier, not the rule's 1.5.
    assert "× 1.2 (flag express_delivery_multiplier)" in step["description"]
    assert step["amount"] == "23.63"
    outside = _quote(
        runtime,
        {
            **SEED_REQUEST,
            "is_express_delivery": False,
            "delivery_address": {"city": "Izmir", "country": "TR"},
        },
    )
    assert outside["data"]["feature_flags"]["dynamic_pricing"] is False


def test_analytics_sum_stored_and_accepted_quotes(
    market: dict[str, Any], runtime: Api, owner: Api, client: TestClient
) -> None:
    first = _quote(runtime)["data"]
    second = _quote(runtime, {**SEED_REQUEST, "customer_id": "c2", "coupon_codes": []})["data"]
    assert runtime.post(f"/v1/quotes/{first['quote_id']}/accept").status_code == 200
    flush(client)
    by_seller = owner.get("/v1/analytics/commission", params={"group_by": "seller"}).json()
    (quoted,) = by_seller["quoted"]
    assert quoted["key"] == "uuid"
    assert quoted["quotes"] == 2
    assert quoted["measures"]["total_commission"] == str(
        Decimal(first["commission_breakdown"]["total_commission"])
        + Decimal(second["commission_breakdown"]["total_commission"])
    )
    assert quoted["measures"]["average_commission_rate"] == "14.0196"  # 14.30 / 102.00
    (accepted,) = by_seller["accepted"]
    assert accepted["quotes"] == 1
    pricing = owner.get("/v1/analytics/pricing", params={"group_by": "region"}).json()
    assert pricing["quoted"][0]["key"] == "istanbul"
    assert pricing["quoted"][0]["measures"]["total_amount"] == str(
        Decimal(first["total_amount"]) + Decimal(second["total_amount"])
    )
    day = owner.get("/v1/analytics/pricing", params={"group_by": "day"}).json()["quoted"][0]
    assert day["key"] == datetime.now(ZoneInfo("Europe/Istanbul")).date().isoformat()
    by_category = owner.get("/v1/analytics/pricing", params={"group_by": "category"}).json()
    assert by_category["quoted"][0]["measures"]["item_total"] == "102.00"
    problem(owner.get("/v1/analytics/pricing", params={"group_by": "color"}), 422)
    platform = Api(client, None)
    problem(platform.get("/v1/analytics/pricing"), 401)


def test_a_coupon_that_stops_applying_says_why(market: dict[str, Any], runtime: Api) -> None:
    body = copy.deepcopy(SEED_REQUEST)
    body["coupon_codes"] = ["SAVE20", "save20"]
    data = _quote(runtime, body)["data"]
    assert [c["code"] for c in data["coupons"]["applied"]] == ["SAVE20"]
    assert data["coupons"]["rejected"] == [{"code": "SAVE20", "reason": "given more than once"}]


@pytest.mark.redis
def test_with_redis_another_worker_serves_the_stored_quote_until_it_is_accepted(
    sqlite_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_url, tmp_path, redis_url=redis_url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        owner = tenant_api(client, "MK", kind="marketplace", base_currency="TRY")
        runtime = Api(client, create_key(client, "MK", "runtime"))
        _made(
            owner.post(
                f"{BASE}/fee-rules",
                json={"name": "D", "type": "DELIVERY_FEE", "configuration": {"base_fee": "9"}},
            )
        )
        body = {**SEED_REQUEST, "is_express_delivery": False, "coupon_codes": []}
        first = _quote(runtime, body)["data"]["quote_id"]
        context = client.app.state.context  # type: ignore[attr-defined]
        context.quotes = QuoteCache()  # as another worker, which never saw the quote
        again = _quote(runtime, body)
        assert again["message"].startswith("The stored quote")
        assert again["data"]["quote_id"] == first
        assert runtime.post(f"/v1/quotes/{first}/accept").status_code == 200
        context.quotes = QuoteCache()
        assert _quote(runtime, body)["data"]["quote_id"] != first
