"""The rules language reads maps by string key (``profile.category_affinity['electronics']``)
and asks about a profile's history (``bought_within('electronics', 30)``): checked when saved,
compiled, evaluated against flat facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offerengine.rules import core as rules
from offerengine.rules.vocabulary import DECISIONING, PRICING

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
FEATURES = {rules.NOW: NOW, "profile.purchases_90d": Decimal(2)}


def test_a_map_is_read_by_a_constant_key() -> None:
    rule = rules.compile_condition("profile.category_affinity['electronics'] >= 0.5", DECISIONING)
    assert rule({**FEATURES, "profile.category_affinity.electronics": Decimal("0.75")}) is True
    assert rule({**FEATURES, "profile.category_affinity.electronics": Decimal("0.25")}) is False
    assert rule.facts == ("profile.category_affinity",)


def test_a_key_the_map_does_not_hold_reads_its_default() -> None:
    rule = rules.compile_expression("profile.category_affinity['garden']", DECISIONING)
    assert rule(FEATURES) == 0


def test_a_key_can_be_another_fact() -> None:
    rule = rules.compile_expression(
        "profile.category_affinity[offer.attributes.category] * 10", DECISIONING
    )
    facts = {
        **FEATURES,
        "offer.attributes.category": "books",
        "profile.category_affinity.books": Decimal("0.5"),
    }
    assert rule(facts) == Decimal("5.0")
    assert set(rule.facts) == {"profile.category_affinity", "offer.attributes.category"}


def test_a_map_without_a_default_misses_the_key_as_a_fact() -> None:
    rule = rules.compile_condition(
        "profile.last_purchase_in['tv'] > now() - 7", DECISIONING
    )  # datetime - days
    with pytest.raises(rules.MissingFact, match=r"profile.last_purchase_in\['tv'\]"):
        rule(FEATURES)
    assert rule({**FEATURES, "profile.last_purchase_in.tv": NOW - timedelta(days=2)}) is True


def test_an_open_namespace_is_indexed_as_any() -> None:
    rule = rules.compile_condition("context.scores['a'] > 1", DECISIONING)
    assert rule({rules.NOW: NOW, "context.scores.a": Decimal(2)}) is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("profile.purchases_30d['x'] > 1", "is a number, not a map"),
        ("profile.category_affinity[3] > 1", "takes a string key, not number"),
        ("profile.category_affinity['x'] == 'high'", "cannot compare number with string"),
        ("prfile.category_affinity['x'] > 1", "did you mean 'profile.category_affinity'"),
        ("profile._secret['x'] > 1", "may not start with '_'"),
        ("profile.category_affinity['x' > 1", "at 33: the expression ends too early"),
    ],
)
def test_a_wrong_index_is_refused_when_saved_with_its_position(text: str, message: str) -> None:
    with pytest.raises(rules.RuleError, match=message):
        rules.compile_condition(text, DECISIONING)


def test_a_key_of_the_wrong_type_at_run_time_is_an_evaluation_error() -> None:
    rule = rules.compile_expression("profile.category_affinity[context.n]", DECISIONING)
    with pytest.raises(rules.EvaluationError, match="takes a string key"):
        rule({**FEATURES, "context.n": Decimal(3)})


def test_bought_within_asks_for_a_purchase_in_the_days_before_now() -> None:
    rule = rules.compile_condition("bought_within('electronics', 30)", DECISIONING)
    assert rule.timed
    bought = {**FEATURES, "profile.last_purchase_in.electronics": NOW - timedelta(days=29)}
    assert rule(bought) is True
    old = {**FEATURES, "profile.last_purchase_in.electronics": NOW - timedelta(days=31)}
    assert rule(old) is False
    assert rule(FEATURES) is False  # never bought in it
    with pytest.raises(rules.MissingFact):  # no features: no stored profile, or no consent
        rule({rules.NOW: NOW})
    negated = rules.compile_condition("not bought_within('electronics', 30)", DECISIONING)
    assert negated(old) is True


def test_bought_within_is_checked_when_saved() -> None:
    with pytest.raises(rules.RuleError, match="takes 0 to 36500 days"):
        rules.compile_condition("bought_within('tv', -1)", DECISIONING)
    with pytest.raises(rules.RuleError, match="takes string here"):
        rules.compile_condition("bought_within(3, 1)", DECISIONING)
    with pytest.raises(rules.RuleError, match="pricing rules have not"):
        rules.compile_condition("bought_within('tv', 3)", PRICING)


def test_the_vocabulary_declares_the_features() -> None:
    for name in (
        "profile.purchases_30d",
        "profile.revenue_90d",
        "profile.days_since_last_purchase",
        "profile.abandoned_carts_7d",
        "profile.last_session_seconds",
        "profile.abandoned_last_session",
    ):
        assert name in DECISIONING.facts
    assert str(DECISIONING.facts["profile.category_affinity"].type) == "map<number>"


@given(key=st.text(max_size=30), value=st.decimals("0", "1", places=4))
def test_any_string_key_reads_the_fact_under_that_name(key: str, value: Decimal) -> None:
    rule = rules.compile_expression("profile.category_affinity[context.key]", DECISIONING)
    facts = {rules.NOW: NOW, "context.key": key, f"profile.category_affinity.{key}": value}
    assert rule(facts) == value
