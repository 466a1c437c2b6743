"""Properties of the quote core for any basket: the steps add up to the total to the minor unit,
item lines add up to the totals, discounts and caps hold, and the same basket prices the same."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from offerengine import money
from offerengine.commerce import core, quote_request, quoting, service
from offerengine.commerce.models import QuoteLine

AT = datetime(2026, 6, 1, tzinfo=UTC)
CATEGORIES = ["electronics", "food", "home", None]
CITIES = [("Istanbul", "TR"), ("Ankara", "TR"), ("Berlin", "DE")]


def _amount(units: int, currency: str) -> str:
    return money.format_amount(units, currency)


def _index(currency: str, *, include_express: bool = False) -> core.CommerceIndex:
    """A tenant with a rule of every kind (amounts in ``currency``'s decimals); its free delivery
    over 900 waives the express part too with ``include_express``."""
    m = money.currency(currency).minor_units
    unit = 10**m

    def a(whole: int) -> str:
        return _amount(whole * unit, currency)

    def fee(ref: str, **fields: Any) -> core.FeeRuleState:
        data = service.FEE_RULE.schema_in.model_validate({"currency": currency, **fields})
        body, errors, _ = service.body_of(service.FEE_RULE, data, base_currency=currency)
        assert errors == []
        return core.fee_state(
            {**body, "id": str(uuid.uuid5(uuid.NAMESPACE_URL, ref)), "version": 1}, AT
        )

    def rate(ref: str, **fields: Any) -> core.RateState:
        data = service.RATE.schema_in.model_validate({"currency": currency, **fields})
        body, errors, _ = service.body_of(service.RATE, data, base_currency=currency)
        assert errors == []
        return core.rate_state(
            {**body, "id": str(uuid.uuid5(uuid.NAMESPACE_URL, ref)), "version": 1}, AT
        )

    def coupon(**fields: Any) -> core.Coupon:
        data = service.COUPON.schema_in.model_validate({"currency": currency, **fields})
        body, errors, _ = service.body_of(service.COUPON, data, base_currency=currency)
        assert errors == []
        return core.coupon(
            {**body, "id": str(uuid.uuid5(uuid.NAMESPACE_URL, body["code"])), "version": 1}
        )

    return core.CommerceIndex(
        rates=[
            rate(
                "r1", commission_type="PERCENTAGE", rate="12.5", min_amount=a(1), max_amount=a(50)
            ),
            rate("r2", seller_id="s1", commission_type="PERCENTAGE", rate="7.25"),
            rate(
                "r3",
                category="electronics",
                commission_type="TIERED",
                tiers=[{"up_to": a(100), "rate": "9"}, {"up_to": None, "rate": "3.3"}],
            ),
            rate("r4", logistics_provider="yk", commission_type="FLAT", rate=a(1)),
        ],
        fees=[
            fee(
                "d",
                name="d",
                type="DELIVERY_FEE",
                configuration={"base_fee": a(20), "per_kg": a(1), "included_kg": "2"},
            ),
            fee(
                "d2",
                name="d2",
                type="DELIVERY_FEE",
                region="Ankara",
                configuration={"base_fee": a(9)},
            ),
            fee(
                "km",
                name="km",
                type="DISTANCE_FEE",
                configuration={
                    "bands": [{"up_to_km": "3", "fee": a(0)}, {"up_to_km": None, "fee": a(7)}]
                },
            ),
            fee(
                "x",
                name="x",
                type="EXPRESS_FEE",
                configuration={
                    "base_fee": a(3),
                    "multiplier": "1.37",
                    "distance_factor": "0.9",
                    "max_fee": a(60),
                },
            ),
            fee(
                "sb",
                name="sb",
                type="SMALL_BASKET_FEE",
                configuration={"threshold": a(150), "fee": a(5)},
            ),
            fee("t", name="t", type="TAX", configuration={"rate": "18", "tax_fees": True}),
            fee("tf", name="tf", type="TAX", category="food", configuration={"rate": "1"}),
            fee(
                "free",
                name="free",
                type="FREE_DELIVERY",
                configuration={"threshold": a(900), "include_express": include_express},
            ),
        ],
        coupons=[
            coupon(code="PCT", type="PERCENTAGE", value="17.5", stackable=True, max_discount="80"),
            coupon(code="FIX", type="FIXED", value=a(25), stackable=True, categories=["home"]),
            coupon(code="SHIP", type="FREE_DELIVERY", stackable=True),
            coupon(code="SOLO", type="PERCENTAGE", value="40"),
        ],
    )


INDEXES = {c: _index(c) for c in ("TRY", "JPY", "KWD")}
EXPRESS_FREE = {c: _index(c, include_express=True) for c in ("TRY", "JPY", "KWD")}


@st.composite
def baskets(draw: st.DrawFn) -> core.Basket:
    currency = draw(st.sampled_from(sorted(INDEXES)))
    m = money.currency(currency).minor_units
    items = tuple(
        core.Item(
            product_id=f"p{i}",
            quantity=draw(st.integers(1, 5)),
            unit_price=money.from_minor(draw(st.integers(0, 99_999 * 10**m // 100)), currency),
            category=draw(st.sampled_from(CATEGORIES)),
            seller_id=draw(st.sampled_from(["s1", "s2", None])),
            logistics_provider=draw(st.sampled_from(["yk", None])),
            weight=draw(st.none() | st.decimals(0, 20, places=2)),
        )
        for i in range(draw(st.integers(1, 8)))
    )
    city, country = draw(st.sampled_from(CITIES))
    lat, lon = 41.0 + draw(st.floats(0, 0.2)), 29.0 + draw(st.floats(0, 0.2))
    return core.Basket(
        currency=currency,
        items=items,
        delivery=core.Address(city, country, lat, lon),
        pickup=draw(st.none() | st.just(core.Address("Istanbul", "TR", 41.0, 29.0))),
        express=draw(st.booleans()),
        coupon_codes=tuple(
            draw(st.lists(st.sampled_from(["PCT", "FIX", "SHIP", "SOLO"]), max_size=4))
        ),
        customer_id=draw(st.none() | st.just("c1")),
    )


def _exact(value: Decimal, currency: str) -> bool:
    """Rounded to the currency, and written with its decimals ("100.00", never "100")."""
    exponent = value.as_tuple().exponent
    return (
        value == money.quantize(value, currency)
        and exponent == -money.currency(currency).minor_units
    )


@settings(max_examples=300, deadline=None)
@given(baskets())
def test_the_steps_add_up_to_the_total_and_the_lines_to_the_totals(basket: core.Basket) -> None:
    index = INDEXES[basket.currency]
    quote = core.quote(index, basket, at=AT)
    currency = basket.currency
    assert sum((s.amount for s in quote.steps), Decimal(0)) == quote.total_amount
    assert quote.steps[-1].running_total == quote.total_amount
    running = Decimal(0)
    for step in quote.steps:
        running += step.amount
        assert step.running_total == running
        assert _exact(step.amount, currency), step
    assert quote.subtotal == quote.item_total - quote.discount_amount
    assert sum((line.discount for line in quote.lines), Decimal(0)) == quote.discount_amount
    fee_tax = sum((s.amount for s in quote.steps if s.step == "fee_tax"), Decimal(0))
    assert sum((line.tax for line in quote.lines), Decimal(0)) + fee_tax == quote.tax_amount
    assert 0 <= quote.discount_amount <= quote.item_total
    assert quote.delivery_fee >= 0
    assert quote.total_amount >= 0
    for line in quote.lines:
        assert 0 <= line.discount <= line.value
        for part in line.commissions:
            assert _exact(part.amount, currency)
            assert part.amount >= 0
            if part.rate.max_amount is not None:
                assert part.amount <= part.rate.max_amount
            if part.rate.min_amount is not None and part.base > 0:
                assert part.amount >= part.rate.min_amount
    assert quote.commission() == sum((quote.commission(c) for c in core.COMPONENTS), Decimal(0))


@settings(max_examples=100, deadline=None)
@given(baskets())
def test_the_same_basket_always_prices_the_same(basket: core.Basket) -> None:
    index = INDEXES[basket.currency]
    first, second = core.quote(index, basket, at=AT), core.quote(index, basket, at=AT)
    assert [(s.step, s.amount) for s in first.steps] == [(s.step, s.amount) for s in second.steps]
    assert first.commission() == second.commission()


@settings(max_examples=300, deadline=None)
@given(baskets(), st.booleans())
def test_a_free_delivery_coupon_never_makes_a_quote_dearer(
    basket: core.Basket, express_too: bool
) -> None:
    # Whatever the free-delivery rule waives (the express part too or not), adding the coupon
    # can only waive more: the customer never pays for having given a coupon.
    index = (EXPRESS_FREE if express_too else INDEXES)[basket.currency]
    codes = tuple(c for c in basket.coupon_codes if c != "SHIP")
    without = msgspec.structs.replace(basket, coupon_codes=codes)
    with_coupon = msgspec.structs.replace(basket, coupon_codes=(*codes, "SHIP"))
    plain = core.quote(index, without, at=AT)
    shipped = core.quote(index, with_coupon, at=AT)
    assert shipped.total_amount <= plain.total_amount
    assert shipped.delivery_fee <= plain.delivery_fee


@given(
    st.decimals(0, 10**6, places=2),
    st.lists(st.decimals(0, 10**5, places=2), min_size=1, max_size=20),
)
def test_an_allocation_adds_up_to_the_minor_unit_and_follows_the_weights(
    total: Decimal, weights: list[Decimal]
) -> None:
    shares = core.allocate(total, weights, "TRY")
    if sum(weights) == 0:
        assert all(s == 0 for s in shares)
        return
    assert sum(shares) == total
    whole = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        assert abs(share - total * weight / whole) < Decimal("0.01")


@settings(max_examples=100, deadline=None)
@given(baskets())
def test_the_stored_lines_line_up_with_their_columns_and_add_up_to_the_quote(
    basket: core.Basket,
) -> None:
    # The writer inserts a quote's analytics lines as tuples in QuoteLine's column order.
    quote = core.quote(INDEXES[basket.currency], basket, at=AT)
    request = quote_request.Request(
        items=list(basket.items),
        delivery_address=basket.delivery,
        pickup_address=basket.pickup,
        is_express_delivery=basket.express,
        coupon_codes=list(basket.coupon_codes),
        currency=basket.currency,
        customer_id=basket.customer_id,
        seller_id="s9",
        logistics_provider=None,
        context={},
    )
    tenant_id, quote_id = uuid.UUID(int=1), uuid.UUID(int=2)
    record = quoting._record(
        quote, b"{}", tenant_id=tenant_id, quote_id=quote_id, digest="", request=request,
        created_at=AT, valid_until=AT, day="2026-06-01",
    )  # fmt: skip
    names = [c.key for c in QuoteLine.__table__.columns]
    # The store writes each line after its tenant and quote, in QuoteLine's column order.
    found = [dict(zip(names, (tenant_id, record.id, *line), strict=True)) for line in record.lines]
    assert {(f["tenant_id"], f["quote_id"]) for f in found} == {(tenant_id, quote_id)}
    assert [f["n"] for f in found] == list(range(len(found)))
    assert sum(f["units"] for f in found) == sum(i.quantity for i in basket.items)
    assert sum(f["value"] for f in found) == money.to_minor(quote.item_total, basket.currency)
    assert sum(f["net"] for f in found) == money.to_minor(quote.subtotal, basket.currency)
    for component in core.COMPONENTS:
        assert sum(f[f"{component}_commission"] for f in found) == money.to_minor(
            quote.commission(component), basket.currency
        )
    assert record.commission == money.to_minor(quote.commission(), basket.currency)
    assert {f["category"] for f in found} == {i.category for i in basket.items}
