"""Properties of the pricing engine over random rules, products and facts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from offerengine import money
from offerengine.catalog.core import ProductFacts
from offerengine.pricing import core

AT = datetime(2026, 12, 1, tzinfo=UTC)
amounts = st.decimals(min_value=-1000, max_value=1000, places=2)
factors = st.decimals(min_value=0, max_value=5, places=3)

adjustments = st.one_of(
    st.builds(lambda v: {"type": "MULTIPLIER", "value": str(v)}, factors),
    st.builds(
        lambda lo, span, formula: {
            "type": "MULTIPLIER",
            "formula": formula,
            "min_multiplier": str(lo),
            "max_multiplier": str(lo + span),
        },
        factors,
        factors,
        st.sampled_from(
            [
                "1.0 + (utilization^2 * 2.0)",
                "1.0 - utilization",
                "utilization * 10",
                "2 - price / base_price",
            ]
        ),
    ),
    st.builds(lambda v: {"type": "FIXED", "value": str(v)}, amounts),
    st.builds(
        lambda f: {"type": "FORMULA", "formula": f},
        st.sampled_from(
            [
                "price * 0.9",
                "price - 100",
                "base_price * utilization",
                "round(price, 0) - 0.01",
                "min(price, 50)",
            ]
        ),
    ),
    st.builds(lambda v: {"type": "SET", "value": str(abs(v))}, amounts),
)
rule_specs = st.lists(
    st.fixed_dictionaries(
        {
            "adjustments": adjustments,
            "priority": st.integers(-5, 5),
            "exclusive": st.booleans(),
            "is_active": st.booleans(),
        },
        optional={
            "conditions": st.sampled_from(
                [
                    {"channel": "web"},
                    {"utilization": {"min": 0.5}},
                    "price > 100",
                    {"context.flag": True},
                ]
            )
        },
    ),
    max_size=8,
)


def _rules(specs: list[dict[str, Any]]) -> list[core.Rule]:
    return [
        core.compile_rule(
            id=uuid.UUID(int=i + 1),
            name=f"r{i}",
            rule_type="CUSTOM",
            version=1,
            priority=spec["priority"],
            created_at=AT - timedelta(days=1, seconds=-i),
            conditions=spec.get("conditions", {}),
            adjustments=spec["adjustments"],
            exclusive=spec["exclusive"],
            is_active=spec["is_active"],
        )
        for i, spec in enumerate(specs)
    ]


def _product(
    base: Decimal, currency: str, floor: Decimal | None, ceiling: Decimal | None
) -> ProductFacts:
    return ProductFacts(
        id=uuid.UUID(int=999),
        product_code="P",
        product_type="SEAT",
        category=None,
        name="P",
        description=None,
        base_price=base,
        currency=currency,
        cost=None,
        attributes={},
        is_active=True,
        version=1,
        price_floor=floor,
        price_ceiling=ceiling,
    )


def _price(
    specs: list[dict[str, Any]], product: ProductFacts, facts: dict[str, Any]
) -> core.PriceResult:
    index = core.PricingIndex.build(_rules(specs), [product])
    complete = core.situation_facts(facts, at=AT, timezone="UTC")
    return core.price(product, index.rules_for(product, include_inactive=True), complete, at=AT)


facts_strategy = st.fixed_dictionaries(
    {},
    optional={
        "utilization": st.decimals(min_value=0, max_value=Decimal("1.5"), places=2),
        "channel": st.sampled_from(["web", "agent"]),
        "context.flag": st.booleans(),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    rule_specs,
    st.decimals(min_value=0, max_value=10_000, places=2),
    st.sampled_from(["USD", "JPY", "KWD"]),
    facts_strategy,
)
def test_prices_are_never_negative_and_have_the_currency_s_decimals(
    specs: list[dict[str, Any]], base: Decimal, currency: str, facts: dict[str, Any]
) -> None:
    base = money.quantize(base, currency)
    result = _price(specs, _product(base, currency, None, None), facts)
    assert result.final_price >= 0
    assert result.final_price == money.quantize(result.final_price, currency)
    assert result.final_price.as_tuple().exponent == -money.currency(currency).minor_units


@settings(max_examples=300, deadline=None)
@given(
    rule_specs,
    st.decimals(min_value=1, max_value=1000, places=2),
    st.decimals(min_value=0, max_value=500, places=2),
    st.decimals(min_value=0, max_value=500, places=2),
    facts_strategy,
)
def test_floor_and_ceiling_always_hold(
    specs: list[dict[str, Any]], base: Decimal, a: Decimal, b: Decimal, facts: dict[str, Any]
) -> None:
    floor, ceiling = min(a, b), max(a, b)
    result = _price(specs, _product(base, "USD", floor, ceiling), facts)
    assert floor <= result.final_price <= ceiling


@settings(max_examples=300, deadline=None)
@given(rule_specs, facts_strategy)
def test_multipliers_stay_within_their_bounds_and_every_rule_is_accounted_for(
    specs: list[dict[str, Any]], facts: dict[str, Any]
) -> None:
    product = _product(Decimal("200.00"), "USD", None, None)
    result = _price(specs, product, facts)
    by_name = {f"r{i}": spec["adjustments"] for i, spec in enumerate(specs)}
    for step in result.steps:
        adjustment = by_name[step.rule_name]
        if step.multiplier is not None and "min_multiplier" in adjustment:
            assert (
                Decimal(adjustment["min_multiplier"])
                <= step.multiplier
                <= Decimal(adjustment["max_multiplier"])
            )
    accounted = [s.rule_name for s in result.steps] + [s.rule_name for s in result.skipped]
    assert sorted(accounted) == sorted(by_name)
    # the running price is continuous: each step starts where the previous one ended
    running = product.base_price
    for step in result.steps:
        assert step.price_before == running
        assert step.amount == step.price_after - step.price_before
        running = step.price_after
    assert _price(specs, product, facts) == result  # the same inputs give the same price


def test_rules_that_compound_past_the_currencys_range_are_skipped_not_a_server_error() -> None:
    # Each ×1000000 is fine alone; the second would take 100.00 USD past what any amount of USD
    # can be: it is skipped with a reason, as is every later one, and the price stays exact.
    specs = [
        {
            "adjustments": {"type": "MULTIPLIER", "value": "1000000"},
            "priority": -i,
            "exclusive": False,
            "is_active": True,
        }
        for i in range(6)
    ]
    result = _price(specs, _product(Decimal("100.00"), "USD", None, None), {})
    assert result.final_price == Decimal("100000000.00")
    assert len(result.steps) == 1
    assert [s.reason for s in result.skipped] == ["the price would be too large"] * 5
