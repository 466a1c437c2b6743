"""Random input never gets past the language's own errors, and never hangs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from offerengine.rules.core import EvaluationError, MissingFact, RuleError, compile_expression
from offerengine.rules.vocabulary import PRICING

# Pieces of the language, so that random sequences often parse and reach the checker and the code
# generator, not only the tokenizer.
PIECES = [
    "utilization",
    "price",
    "base_price",
    "passengers",
    "cabin_class",
    "departure_date",
    "booking_date",
    "context.x",
    "context.y",
    "'ECONOMY'",
    "'a'",
    "1",
    "0",
    "2.5",
    "1e3",
    "-",
    "+",
    "*",
    "/",
    "%",
    "^",
    "(",
    ")",
    "[",
    "]",
    ",",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "and",
    "or",
    "not",
    "in",
    "&&",
    "||",
    "!",
    "true",
    "false",
    "min(",
    "max(",
    "abs(",
    "round(",
    "clamp(",
    "date('2024-06-01')",
    "days_until(",
    "now()",
    "9",
    "99",
    "1e999",
]

facts_strategy = st.fixed_dictionaries(
    {},
    optional={
        "utilization": st.decimals(allow_nan=False, allow_infinity=False, places=3),
        "price": st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, places=2),
        "passengers": st.integers(-3, 9).map(
            Decimal
        ),  # facts hold numbers as Decimal, as read_facts makes them
        "cabin_class": st.sampled_from(["ECONOMY", "BUSINESS"]),
        "context.x": st.one_of(
            st.integers(),
            st.text(max_size=3),
            st.booleans(),
            st.decimals(allow_nan=False, allow_infinity=False),
        ),
        "context.y": st.one_of(st.integers(), st.text(max_size=3)),
    },
)


def _compile(text: str) -> Any:
    try:
        return compile_expression(text, PRICING)
    except RuleError as refused:
        error = refused.errors[0]  # every refusal names its problem
        if not error.msg:
            raise AssertionError(f"a RuleError without a message for {text!r}") from refused
        return None


@settings(max_examples=400, deadline=2000)
@given(st.text(max_size=200))
def test_random_text_compiles_or_is_a_rule_error(text: str) -> None:
    _compile(text)


@settings(max_examples=600, deadline=2000)
@given(st.lists(st.sampled_from(PIECES), max_size=25).map(" ".join), facts_strategy)
def test_random_token_sequences_compile_and_evaluate_or_fail_cleanly(
    text: str, facts: dict[str, Any]
) -> None:
    compiled = _compile(text)
    if compiled is None:
        return
    try:
        value = compiled(facts)
    except (MissingFact, EvaluationError):
        return
    # What a rule gives is what the compiler said it would give.
    expected = {
        "number": Decimal,
        "boolean": bool,
        "string": str,
        "date": date,
        "datetime": datetime,
        "list": tuple,
    }
    if compiled.type.name in expected:
        assert isinstance(value, expected[compiled.type.name]), (text, compiled.type, value)
