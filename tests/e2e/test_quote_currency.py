"""A quote in a currency the marketplace's rules do not cover: converted with the tenant's
exchange rates into one they do, and said so, or a 422 naming ``currency``; never a quote with no
tax, no fees and no commission."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Api, create_key, error_locs, problem, tenant_api

BASE = "/v1/admin/tenants/MK"
BASKET: dict[str, Any] = {
    "customer_id": "c-1",
    "seller_id": "s-1",
    "items": [{"product_id": "p-1", "quantity": 2, "unit_price": "25.50", "category": "phones"}],
    "delivery_address": {"city": "Istanbul", "country": "TR"},
}


@pytest.fixture
def owner(client: TestClient) -> Api:
    """A TRY marketplace with a 10% commission, a 20.00 delivery fee and 20% VAT, all in TRY."""
    api = tenant_api(client, "MK", kind="marketplace", base_currency="TRY")
    for path, body in (
        ("commission-rates", {"commission_type": "PERCENTAGE", "rate": "10", "seller_id": "s-1"}),
        (
            "fee-rules",
            {"name": "Delivery", "type": "DELIVERY_FEE", "configuration": {"base_fee": "20.00"}},
        ),
        ("fee-rules", {"name": "VAT", "type": "TAX", "configuration": {"rate": "20"}}),
    ):
        made = api.post(f"{BASE}/{path}", json=body)
        assert made.status_code == 201, made.text
    return api


@pytest.fixture
def runtime(client: TestClient, owner: Api) -> Api:
    return Api(client, create_key(client, "MK", "runtime"))


def _rates(owner: Api, *rates: dict[str, str]) -> None:
    saved = owner.put(f"{BASE}/fare-settings", json={"exchange_rates": list(rates)})
    assert saved.status_code in (200, 201), saved.text


def _stored(owner: Api) -> list[Any]:
    client: Any = owner.client
    client.portal.call(client.app.state.context.recorder.flush)
    return list(owner.get("/v1/analytics/pricing").json()["quoted"])


def test_without_exchange_rates_a_currency_no_rule_covers_is_a_422_naming_currency(
    owner: Api, runtime: Api
) -> None:
    body = problem(runtime.post("/v1/quote", json=BASKET | {"currency": "USD"}), 422)
    assert error_locs(body) == [["body", "currency"]]
    assert "USD" in body["detail"]
    assert "TRY" in body["detail"]
    assert _stored(owner) == []
    # The tenant's own currency, named or by default, is quoted with its rules.
    for basket in (BASKET, BASKET | {"currency": "TRY"}):
        data = runtime.post("/v1/quote", json=basket).json()["data"]
        assert (data["currency"], data["delivery_fee"], data["tax_amount"]) == (
            "TRY",
            "20.00",
            "10.20",
        )


def test_with_a_configured_rate_the_basket_is_converted_priced_by_the_rules_and_says_so(
    owner: Api, runtime: Api
) -> None:
    _rates(owner, {"from": "USD", "to": "TRY", "rate": "34.50"})
    response = runtime.post("/v1/quote", json=BASKET | {"currency": "USD"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    # 25.50 USD × 34.50 = 879.75 TRY a unit; 2 units 1759.50; VAT 20% 351.90; delivery 20.00.
    assert data["currency"] == "TRY"
    assert data["items"][0]["unit_price"] == "879.75"
    assert (data["subtotal"], data["tax_amount"], data["delivery_fee"]) == (
        "1759.50",
        "351.90",
        "20.00",
    )
    assert data["total_amount"] == "2131.40"
    assert data["commission_breakdown"]["total_commission"] == "175.95"
    breakdown = data["pricing_breakdown"]
    assert breakdown["exchange"] == {
        "from": "USD",
        "to": "TRY",
        "rate": "34.5",
        "source": "fare_settings",
        "version": 1,
    }
    first = breakdown["calculations"][0]
    assert first["step"] == "item_total"
    assert "converted from USD" in first["description"]
    assert any("USD" in note and "34.5 TRY" in note for note in breakdown["notes"])
    assert sum(Decimal(s["amount"]) for s in breakdown["calculations"]) == Decimal("2131.40")


def test_a_rate_given_the_other_way_round_converts_too(owner: Api, runtime: Api) -> None:
    _rates(owner, {"from": "TRY", "to": "EUR", "rate": "0.025"})  # 1 EUR = 40 TRY
    data = runtime.post("/v1/quote", json=BASKET | {"currency": "EUR"}).json()["data"]
    assert (data["currency"], data["items"][0]["unit_price"]) == ("TRY", "1020.00")
    assert data["pricing_breakdown"]["exchange"]["rate"] == "40"


def test_a_currency_the_rules_cover_is_quoted_as_it_is(owner: Api, runtime: Api) -> None:
    _rates(owner, {"from": "USD", "to": "TRY", "rate": "34.50"})
    rule = {"name": "USD delivery", "type": "DELIVERY_FEE", "currency": "USD"}
    made = owner.post(f"{BASE}/fee-rules", json=rule | {"configuration": {"base_fee": "5.00"}})
    assert made.status_code == 201, made.text
    data = runtime.post("/v1/quote", json=BASKET | {"currency": "USD"}).json()["data"]
    assert (data["currency"], data["delivery_fee"], data["subtotal"]) == ("USD", "5.00", "51.00")
    assert data["pricing_breakdown"]["exchange"] is None
