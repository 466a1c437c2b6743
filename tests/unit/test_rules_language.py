from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from offerengine.rules.core import (
    NOW,
    EvaluationError,
    MissingFact,
    RuleError,
    compile_condition,
    compile_expression,
)
from offerengine.rules.types import BOOLEAN, NUMBER
from offerengine.rules.vocabulary import PRICING

D = Decimal
NOW_AT = datetime(2026, 12, 14, 9, 30, tzinfo=UTC)


def run(text: str, **facts: Any) -> Any:
    flat = {k.replace("__", "."): v for k, v in facts.items()} | {NOW: NOW_AT}
    return compile_expression(text, PRICING)(flat)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.0 + (utilization^2 * 2.0)", D("1.5")),  # the seed's formula, as written
        ("1 + 2 * 3", D(7)),
        ("(1 + 2) * 3", D(9)),
        ("2^3^2", D(512)),  # ^ is right-associative
        ("-2^2", D(-4)),  # and binds tighter than a leading minus
        ("0.1 + 0.2", D("0.3")),  # exact decimals, never float
        ("10 / 4", D("2.5")),
        ("10 % 4", D(2)),
        ("round(2.345, 2)", D("2.35")),  # half-up
        ("round(-2.5)", D(-3)),
        ("clamp(utilization * 10, 1, 3)", D(3)),
        ("min(3, 1, 2) + max(3, 1, 2)", D(4)),
        ("abs(-7.5)", D("7.5")),
        ("price * 1.1", D("110.0")),
    ],
)
def test_arithmetic_follows_the_usual_rules_exactly(text: str, value: Decimal) -> None:
    assert run(text, utilization=D("0.5"), price=D(100)) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("cabin_class == 'ECONOMY' and days_until_departure <= 7", True),
        ("cabin_class == 'ECONOMY' && days_until_departure > 7", False),
        ("cabin_class != 'ECONOMY' || passengers >= 2", True),
        ("!(passengers >= 2)", False),
        ("not (passengers >= 2)", False),
        ("cabin_class in ['ECONOMY', 'PREMIUM_ECONOMY']", True),
        ("cabin_class not in ['ECONOMY']", False),
        ("'JFK' in route", True),
        ("departure_date >= date('2026-12-01') and departure_date <= date('2026-12-31')", True),
        ("departure_date - booking_date == days_until_departure", True),
        ("booking_date + 6 == departure_date", True),
        ("days_until(departure_date) == 6", True),
        ("hours_until(context.departure_at) == 26.5", True),
        ("now() < context.departure_at", True),
        ("context.vip == true and customer.tier in ['GOLD', 'PLATINUM']", True),
    ],
)
def test_conditions_combine_comparisons_membership_dates_and_context(
    text: str, value: bool
) -> None:
    facts = {
        "cabin_class": "ECONOMY",
        "days_until_departure": D(6),
        "passengers": 2,
        "route": "JFK-LHR",
        "departure_date": date(2026, 12, 20),
        "booking_date": date(2026, 12, 14),
        "context__departure_at": datetime(2026, 12, 15, 12, 0, tzinfo=UTC),
        "context__vip": True,
        "customer__tier": "GOLD",
    }
    assert run(text, **facts) is value


def test_a_missing_fact_makes_the_rule_not_applicable_and_says_which() -> None:
    rule = compile_expression("customer.tier == 'GOLD' and price > 10", PRICING)
    with pytest.raises(MissingFact) as missing:
        rule({"price": D(20)})
    assert missing.value.name == "customer.tier"
    assert rule.facts == ("customer.tier", "price")


@pytest.mark.parametrize(
    ("text", "facts", "reason"),
    [
        ("price / passengers", {"price": D(1), "passengers": D(0)}, "division by zero"),
        ("price ^ passengers", {"price": D(2), "passengers": D(1000)}, "out of range"),
        ("context.x * 2", {"context.x": "abc"}, "expected a number"),
        ("context.x > 2", {"context.x": "abc"}, "cannot compute"),
        ("utilization ^ 0.5", {"utilization": D(-1)}, "no result"),
    ],
)
def test_evaluation_failures_are_evaluation_errors_never_crashes(
    text: str, facts: dict[str, Any], reason: str
) -> None:
    with pytest.raises(EvaluationError, match=reason):
        compile_expression(text, PRICING)(facts)


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("utilisation > 0.8", 0, "did you mean 'utilization'"),
        ("price > 0 and custmer.tier == 'GOLD'", 14, "did you mean 'customer.tier'"),
        ("cabin_class == 1", 0, "cannot compare string with number"),
        ("departure_date > '2024-06-01'", 0, "write dates as date('2024-06-01')"),
        ("price + 'x'", 8, "needs numbers, not string"),
        ("price and true", 0, "and needs boolean, not number"),
        ("minimum(1, 2)", 0, "did you mean min()"),
        ("round(1, 2, 3)", 0, "takes round(number, digits = 0)"),
        ("9^9^9", 2, "out of range"),
        ("1 / 0", 0, "division by zero"),
        ("price >", 7, "ends too early"),
        ("price @ 2", 6, "unexpected character '@'"),
        ("price.__class__", 0, "may not start with '_'"),
        ("now > 1", 0, "now is a function"),
        ("date('2024-13-01') > departure_date", 0, "not an ISO date"),
        ("[1, 'a']", 0, "one type"),
    ],
)
def test_bad_rules_are_refused_when_compiled_with_the_position(
    text: str, position: int, message: str
) -> None:
    with pytest.raises(RuleError) as refused:
        compile_expression(text, PRICING)
    error = refused.value.errors[0]
    assert message in error.msg
    assert error.position == position


def test_a_formula_must_give_a_number_and_a_condition_true_or_false() -> None:
    with pytest.raises(RuleError, match="must give a number"):
        compile_expression("price > 1", PRICING, expect=NUMBER)
    with pytest.raises(RuleError, match="must give true or false"):
        compile_expression("price * 2", PRICING, expect=BOOLEAN)


def test_length_and_nesting_are_bounded() -> None:
    with pytest.raises(RuleError, match="longer than"):
        compile_expression("1 + " * 700 + "1", PRICING)
    with pytest.raises(RuleError, match="nests deeper"):
        compile_expression("(" * 60 + "1" + ")" * 60, PRICING)
    with pytest.raises(RuleError, match="nests deeper"):
        compile_expression("- " * 60 + "1", PRICING)
    with pytest.raises(RuleError, match="out of range"):
        compile_expression("price * 1e5000", PRICING)
    # brackets inside strings, escaped quotes included, are text, not nesting
    deep_text = "'" + "(" * 60 + "\\'" + "(" * 60 + "'"
    assert compile_expression(f"cabin_class == {deep_text}", PRICING)({"cabin_class": "x"}) is False


def test_keywords_inside_names_stay_names() -> None:
    rule = compile_expression("context.android and context.order and context.notes == 'x'", PRICING)
    assert rule.facts == ("context.android", "context.order", "context.notes")


# --- JSON conditions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "facts", "holds"),
    [
        (
            {"product_type": "FLIGHT", "cabin_class": "ECONOMY"},
            {"product_type": "FLIGHT", "cabin_class": "ECONOMY"},
            True,
        ),
        (
            {"product_type": "FLIGHT", "cabin_class": "ECONOMY"},
            {"product_type": "FLIGHT", "cabin_class": "BUSINESS"},
            False,
        ),
        ({"days_until_departure": {"max": 7}}, {"days_until_departure": 7}, True),
        ({"days_until_departure": {"max": 7}}, {"days_until_departure": 8}, False),
        ({"utilization": {"min": 0.8, "lt": 0.95}}, {"utilization": D("0.9")}, True),
        ({"utilization": {"gt": 0.8}}, {"utilization": D("0.8")}, False),
        (
            {"date_range": {"start": "2024-06-01", "end": "2024-08-31"}},
            {"departure_date": date(2024, 8, 31)},
            True,
        ),
        (
            {"date_range": {"start": "2024-06-01", "end": "2024-08-31"}},
            {"departure_date": date(2024, 9, 1)},
            False,
        ),
        (
            {"date_range": {"start": "2026-12-01", "fact": "booking_date"}},
            {"booking_date": date(2026, 12, 14)},
            True,
        ),
        ({"cabin_class": ["BUSINESS", "FIRST"]}, {"cabin_class": "FIRST"}, True),
        ({"cabin_class": {"not_in": ["BUSINESS", "FIRST"]}}, {"cabin_class": "FIRST"}, False),
        ({"any": [{"channel": "web"}, {"channel": "mobile"}]}, {"channel": "mobile"}, True),
        (
            {"all": [{"channel": "web"}, {"passengers": {"min": 2}}]},
            {"channel": "web", "passengers": 1},
            False,
        ),
        ({"not": {"channel": "agent"}}, {"channel": "web"}, True),
        ({"expression": "price > base_price * 1.2"}, {"price": D(130), "base_price": D(100)}, True),
        ({"context.campaign": "BLACKFRIDAY"}, {"context.campaign": "BLACKFRIDAY"}, True),
        ({}, {}, True),
    ],
)
def test_json_conditions_compile_to_the_same_callables(
    condition: dict[str, Any], facts: dict[str, Any], holds: bool
) -> None:
    assert compile_condition(condition, PRICING)(facts) is holds


def test_a_json_condition_and_its_expression_give_the_same_answers() -> None:
    as_json = compile_condition(
        {"cabin_class": "ECONOMY", "days_until_departure": {"max": 7}}, PRICING
    )
    as_text = compile_expression("cabin_class == 'ECONOMY' and days_until_departure <= 7", PRICING)
    for cabin in ("ECONOMY", "BUSINESS"):
        for days in range(12):
            facts = {"cabin_class": cabin, "days_until_departure": D(days)}
            assert as_json(facts) == as_text(facts)


@pytest.mark.parametrize(
    ("condition", "loc", "message"),
    [
        (
            {"days_until_departur": {"max": 7}},
            ["days_until_departur"],
            "did you mean 'days_until_departure'",
        ),
        (
            {"days_until_departure": {"maxx": 7}},
            ["days_until_departure", "maxx"],
            "unknown operator 'maxx'",
        ),
        ({"days_until_departure": "seven"}, ["days_until_departure"], "expected a number"),
        ({"any": [{"expression": "price >"}]}, ["any", 0, "expression"], "ends too early"),
        (
            {"date_range": {"start": "2024-09-01", "end": "2024-08-31"}},
            ["date_range"],
            "ends before it starts",
        ),
        ({"date_range": {"start": "June"}}, ["date_range", "start"], "ISO date"),
        ({"any": []}, ["any"], "non-empty list"),
        ({"expression": "price * 2"}, ["expression"], "true or false"),
        ({"cabin_class": None}, ["cabin_class"], "compare with a value"),
        ([1, 2], [], "a condition is an object"),
    ],
)
def test_json_condition_errors_point_into_the_json(
    condition: Any, loc: list[Any], message: str
) -> None:
    with pytest.raises(RuleError) as refused:
        compile_condition(condition, PRICING)
    error = refused.value.errors[0]
    assert list(error.loc) == loc
    assert message in error.msg
