"""What a contextual ranking reads of a request, and how its versions are told apart."""

from __future__ import annotations

from decimal import Decimal

import pytest

from offerengine.learning.policy import ContextualDef


def spec(**config: object) -> ContextualDef:
    return ContextualDef.of(
        "live",
        {"features": ["profile.tier=GOLD", "profile.segments=vip", "context.days", "profile.age"]}
        | config,
        0.05,
    )


def test_features_read_numbers_values_and_lists() -> None:
    facts = {
        "profile.tier": "GOLD",
        "profile.segments": ("vip", "new"),
        "context.days": Decimal("3"),
        "profile.age": "forty",  # not a number: 0
    }
    assert spec().context(facts) == [1.0, 1.0, 1.0, 3.0, 0.0]
    assert spec().context({}) == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert spec().context({"context.days": True, "profile.tier": "SILVER"}) == [1, 0, 0, 1, 0]


def test_without_consent_to_personalise_only_the_context_is_read() -> None:
    facts = {
        "profile.tier": "GOLD",
        "profile.age": 40,
        "context.days": 3,
        "profile.consent.personalization": False,
    }
    assert spec().context(facts) == [1.0, 0.0, 0.0, 3.0, 0.0]


def test_settings_make_the_version_features_make_what_carries_over() -> None:
    base, explored = spec(), spec(variance=0.5)
    assert base.key != explored.key
    assert base.shape == explored.shape  # the learnt state carries over
    other = spec(features=["context.days"])
    assert other.shape != base.shape
    assert spec().key == base.key  # the same settings: the same version


@pytest.mark.parametrize("reward", ["click", "accept", "purchase"])
def test_the_cold_start_prior_keeps_the_activitys_order(reward: str) -> None:
    prior = spec(reward=reward).prior([10.0, 50.0, 5.0], [0.0, 0.0, 0.0])
    assert list(prior.argsort()[::-1]) == [0, 1, 2]
    assert prior[0] == pytest.approx(0.05)


def test_revenue_and_margin_priors_weigh_the_offers_value() -> None:
    assert spec(reward="revenue").prior([10.0, 50.0], [0.0, 0.0]).argmax() == 1
    margin = spec(reward="margin").prior([10.0, 50.0], [0.0, 2.6])
    assert margin[1] == pytest.approx(0.05 * 50 - 2.6)
