"""Personal coupons on airline offers, the pure core: whose a grant is, which offers it fits
(currency, minimum spend before taxes, scope, budget left), what it takes off and how it is
shared among the items; and the price given back without it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from offerengine.commerce import core as commerce
from offerengine.shopping.core import _grants as grants

AT = datetime(2026, 12, 8, 12, tzinfo=UTC)


def _personal(
    *,
    kind: str = "FIXED",
    value: str = "40.00",
    min_basket: str | None = None,
    categories: list[str] | None = None,
    used: int = 0,
    left: str | None = None,
    customer: str = "ada",
    currency: str = "USD",
    max_discount: str | None = None,
) -> grants.Personal:
    coupon = commerce.coupon(
        {
            "id": uuid.uuid4(),
            "version": 1,
            "code": "G-ABCDEF1234",
            "type": kind,
            "value": value,
            "min_basket": min_basket,
            "max_discount": max_discount,
            "currency": currency,
            "categories": categories,
            "valid_from": (AT - timedelta(days=1)).isoformat(),
            "valid_until": (AT + timedelta(days=1)).isoformat(),
            "usage_limit_total": 1,
            "usage_limit_per_customer": 1,
            "stackable": True,
        }
    )
    return grants.Personal(
        code="G-ABCDEF1234",
        grant_id=str(coupon.id),
        promotion="FLYBACK",
        customer_id=customer,
        coupon=coupon,
        usage=commerce.Usage(total=used, customer=used),
        budget_left=None if left is None else Decimal(left),
    )


def _item(item_id: str, total: str, **fields: Any) -> dict[str, Any]:
    return {"item_id": item_id, "price": {"total": total}, **fields}


ITEMS = [
    _item("flight", "300.00", type="FLIGHT", cabin="ECONOMY"),
    _item("extra-1", "60.00", type="BAG", category="CHECKED_BAG"),
    _item("extra-2", "0.00", type="LOUNGE", category="LOUNGE"),  # a tier benefit, priced 0
]
PRICE = {"base": "360.00", "adjustments": "0.00", "discount": "-10.00", "tax_total": "20.00",
         "total": "380.00", "currency": "USD"}  # fmt: skip


def _apply(personal: grants.Personal | None, items: list[dict[str, Any]] = ITEMS) -> Any:
    code = "G-ABCDEF1234"
    found = {code: personal} if personal is not None else {}
    return grants.apply(PRICE, items, [code], found, {}, "USD")


def test_a_fixed_grant_comes_off_before_taxes_shared_by_the_items_worth() -> None:
    done = _apply(_personal())
    [outcome] = done.outcomes
    assert outcome.applied
    assert outcome.amount == Decimal("40.00")
    assert dict(outcome.shares) == {"flight": Decimal("33.33"), "extra-1": Decimal("6.67")}
    assert done.price["total"] == "340.00"
    assert done.price["discount"] == "-50.00"
    assert done.price["tax_total"] == "20.00"  # taxes as filed
    applied = done.price["coupons"]["applied"][0]
    assert (applied["amount"], applied["description"]) == ("40.00", "40.00 USD off")
    assert done.price["coupons"]["total_before"] == "380.00"
    assert grants.without(done.price) == PRICE


def test_a_percentage_grant_is_capped_and_never_takes_more_than_its_scope_is_worth() -> None:
    done = _apply(_personal(kind="PERCENTAGE", value="50", max_discount="100.00"))
    assert done.outcomes[0].amount == Decimal("100.00")
    assert "capped at 100.00" in done.outcomes[0].reason
    bags = _apply(_personal(value="500.00", categories=["checked_bag"]))
    assert bags.outcomes[0].amount == Decimal("60.00")
    assert dict(bags.outcomes[0].shares) == {"extra-1": Decimal("60.00")}


def test_a_grant_is_not_applied_below_its_minimum_out_of_scope_or_past_its_budget() -> None:
    low = _apply(_personal(min_basket="400.00"))
    assert low.outcomes[0].reason == (
        "the offer is 360.00 before taxes; the coupon needs at least 400.00"
    )
    assert low.price["total"] == "380.00"
    assert low.price["coupons"]["rejected"] == [
        {"code": "G-ABCDEF1234", "reason": low.outcomes[0].reason}
    ]
    scope = _apply(_personal(categories=["HOTEL"]))
    assert scope.outcomes[0].reason == "no item of the offer is in the coupon's scope"
    budget = _apply(_personal(left="25.00"))
    assert budget.outcomes[0].reason.startswith("the coupon's campaign has 25.00 left")
    euros = _apply(_personal(currency="EUR"))
    assert euros.outcomes[0].reason == "the coupon is for EUR offers"


def test_whose_and_when_a_grant_applies() -> None:
    assert grants.refusal(_personal(), "ada", AT) is None
    assert grants.refusal(None, "ada", AT) == "no such coupon"
    assert grants.refusal(_personal(), None, AT) == (
        "the coupon is personal: search with its customer's customer.id"
    )
    assert grants.refusal(_personal(), "bob", AT) == "the coupon is personal to another customer"
    assert grants.refusal(_personal(used=1), "ada", AT) == (
        "the coupon has been used 1 time, its limit"
    )
    assert grants.refusal(_personal(), "ada", AT + timedelta(days=2)).startswith(
        "the coupon expired at"
    )
    assert grants.refusal(_personal(left="0"), "ada", AT) == (
        "the coupon's campaign has spent its budget"
    )
    twice = grants.apply(
        PRICE, ITEMS, ["G-ABCDEF1234"] * 2, {"G-ABCDEF1234": _personal()}, {}, "USD"
    )
    assert [o.applied for o in twice.outcomes] == [True, False]
    assert twice.outcomes[1].reason == "given more than once"
    assert twice.price["total"] == "340.00"


@given(
    st.lists(st.integers(min_value=0, max_value=200_000), min_size=1, max_size=6),
    st.integers(min_value=1, max_value=300_000),
)
def test_a_grant_never_takes_more_than_the_offer_and_its_shares_add_up(
    totals: list[int], value: int
) -> None:
    items = [_item(f"i{n}", str(Decimal(t) / 100)) for n, t in enumerate(totals)]
    spend = sum(Decimal(t) / 100 for t in totals)
    price = {**PRICE, "discount": "0.00", "total": str(spend)}
    done = grants.apply(
        price,
        items,
        ["G-ABCDEF1234"],
        {"G-ABCDEF1234": _personal(value=str(Decimal(value) / 100))},
        {},
        "USD",
    )
    [outcome] = done.outcomes
    assert Decimal(done.price["total"]) >= 0
    if outcome.applied:
        assert sum(s for _, s in outcome.shares) == outcome.amount <= spend
        for item_id, share in outcome.shares:
            worth = next(Decimal(i["price"]["total"]) for i in items if i["item_id"] == item_id)
            assert 0 < share <= worth
    else:
        assert spend == 0
    assert grants.without(done.price)["total"] == price["total"]
