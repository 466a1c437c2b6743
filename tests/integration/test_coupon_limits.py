"""Coupon limits are exact: concurrent acceptances through several workers never use a coupon
more than its limit in all or per customer, on SQLite and PostgreSQL, and reach the limit."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.helpers import Api, create_key, create_tenant
from tests.servers import serve

pytestmark = pytest.mark.slow
TOTAL_LIMIT = 5
CUSTOMERS = 12
QUOTES_EACH = 2


def _basket(customer: str, quantity: int) -> dict[str, object]:
    return {
        "customer_id": customer,
        "items": [{"product_id": "p", "quantity": quantity, "unit_price": "40.00"}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "coupon_codes": ["LIMITED"],
    }


def test_concurrent_acceptances_use_a_coupon_exactly_up_to_its_limits(
    database_url: str, tmp_path: Path
) -> None:
    with (
        serve(database_url, tmp_path, workers=3) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        create_tenant(client, "QT", kind="marketplace", base_currency="TRY")
        owner = Api(client, create_key(client, "QT", "owner"))
        coupon = owner.post(
            "/v1/admin/tenants/QT/coupons",
            json={
                "code": "LIMITED",
                "type": "FIXED",
                "value": "10.00",
                "usage_limit_total": TOTAL_LIMIT,
                "usage_limit_per_customer": 1,
            },
        ).json()
        runtime = Api(client, create_key(client, "QT", "runtime"))
        # Every worker knows the coupon (configuration reaches the workers within moments).
        deadline, streak = time.monotonic() + 20, 0
        while streak < 9 and time.monotonic() < deadline:
            probe = runtime.post("/v1/quote", json=_basket("probe", 1))
            streak = streak + 1 if probe.status_code == 200 else 0
        assert streak == 9, probe.text
        quotes = []
        for i in range(CUSTOMERS * QUOTES_EACH):
            made = runtime.post("/v1/quote", json=_basket(f"c{i % CUSTOMERS}", 1 + i // CUSTOMERS))
            assert made.status_code == 200, made.text
            assert made.json()["data"]["coupons"]["applied"][0]["code"] == "LIMITED"
            quotes.append((f"c{i % CUSTOMERS}", made.json()["data"]["quote_id"]))

        def accept(job: tuple[str, str]) -> tuple[str, int]:
            customer, quote_id = job
            with httpx.Client(base_url=url, timeout=60) as own:
                response = Api(own, runtime.key).post(f"/v1/quotes/{quote_id}/accept")
            assert response.status_code in (200, 409), response.text
            return customer, response.status_code

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(accept, quotes))
        accepted = [customer for customer, code in results if code == 200]
        assert len(accepted) == TOTAL_LIMIT
        assert max(Counter(accepted).values()) == 1
        assert owner.get(f"/v1/admin/coupons/{coupon['id']}").json()["used"] == TOTAL_LIMIT
        # The refused ones changed nothing: they are still only quoted.
        statuses = Counter(
            runtime.get(f"/v1/quotes/{quote_id}").json()["data"]["status"] for _, quote_id in quotes
        )
        assert statuses == {"ACCEPTED": TOTAL_LIMIT, "QUOTED": len(quotes) - TOTAL_LIMIT}
