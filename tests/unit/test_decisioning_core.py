"""The decisioning core without a database: cap windows, candidate order, the funnel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from offerengine.decisioning import core, learning, service
from offerengine.rules import core as rules

PLACEMENT = uuid.uuid4()


def cap(window: str = "calendar", unit: str | None = "day", zone: str = "UTC") -> core.Cap:
    return core.Cap("profile", 2, "decision", window, unit, ZoneInfo(zone))


def test_calendar_windows_reset_at_midnight_where_the_cap_says() -> None:
    just_before = datetime(2026, 11, 22, 20, 59, tzinfo=UTC)  # 23:59 in Istanbul (UTC+3)
    just_after = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)  # 00:00 there
    istanbul = cap(zone="Europe/Istanbul")
    assert istanbul.bucket(just_before) == "2026-11-22"
    assert istanbul.bucket(just_after) == "2026-11-23"
    assert cap().bucket(just_after) == "2026-11-22"  # still the 22nd in UTC
    assert cap(unit="week").bucket(just_after) == "2026-11-16"  # Monday
    assert cap(unit="month").bucket(just_after) == "2026-11-01"
    assert cap("lifetime", None).bucket(just_after) == ""
    assert cap().subject("p1") == "p1"
    assert core.Cap("global", 1, "decision", "lifetime", None, ZoneInfo("UTC")).subject("p1") == ""


def offer(name: str, priority: int, rule: str | None = None, **extra: Any) -> core.OfferDef:
    value = extra.get("value")
    return core.OfferDef(
        id=uuid.uuid4(),
        name=name,
        priority=priority,
        start=extra.get("start"),
        end=extra.get("end"),
        content=MappingProxyType({PLACEMENT: {"h": name}}),
        eligibility=service.compile_eligibility(rule),
        caps=(),
        facts=core.offer_facts(
            name, priority, (), extra.get("start"), extra.get("end"), value, None, {}
        ),
    )


def activity(offers: list[core.OfferDef], formula: str | None = None) -> core.ActivityDef:
    compiled = None if formula is None else service.compile_formula(formula)
    scores = None
    if compiled is not None and core.static(compiled):
        ordered, scores = core.score_statically(compiled, offers)
    else:
        ordered = core.priority_order(offers)
    return core.ActivityDef(
        id=uuid.uuid4(),
        name="A",
        placement_id=PLACEMENT,
        start=None,
        end=None,
        candidates=ordered,
        fallback=core.Fallback(uuid.uuid4(), "F", {}),
        formula=compiled,
        formula_name=formula,
        scores=scores,
    )


def names(
    act: core.ActivityDef, attributes: dict[str, Any], fates: list[Any] | None = None
) -> list[str]:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    facts = core.request_facts("p", attributes, {}, now)
    with rules.rules_context():
        return [c.offer.name for c in core.ranked(act, facts, now, fates)]


def test_priority_order_breaks_ties_by_name_and_filters_by_rule_and_calendar() -> None:
    ended = datetime(2026, 1, 1, tzinfo=UTC)
    act = activity(
        [
            offer("b", 5),
            offer("a", 5),
            offer("gold", 9, "profile.tier == 'GOLD'"),
            offer("old", 99, end=ended),
        ]
    )
    assert names(act, {"tier": "GOLD"}) == ["gold", "a", "b"]
    fates: list[dict[str, Any]] = []
    assert names(act, {}, fates) == ["a", "b"]
    assert [(f["name"], f["stage"]) for f in fates] == [
        ("old", "calendar"),
        ("gold", "eligibility"),
    ]
    assert "profile.tier" in fates[1]["reason"]


def test_a_formula_of_the_offer_alone_is_scored_once_and_a_request_formula_per_request() -> None:
    offers = [
        offer("cheap", 1, value=Decimal(10)),
        offer("dear", 2, value=Decimal(50)),
        offer("none", 3),
    ]
    static = activity(offers, "offer.value * 2")
    assert static.scores is not None
    assert static.scores[offers[1].id] == Decimal(100)
    assert isinstance(static.scores[offers[2].id], str)  # no value: cannot be scored
    fates: list[dict[str, Any]] = []
    assert names(static, {}, fates) == ["dear", "cheap"]
    assert fates[0]["stage"] == "ranking"

    per_request = activity(offers[:2], "offer.value * profile.weight")
    assert per_request.scores is None
    assert names(per_request, {"weight": 1}) == ["dear", "cheap"]
    assert names(per_request, {"weight": -1}) == ["cheap", "dear"]


def test_rolling_windows_are_keyed_by_their_length() -> None:
    week = core.Cap("global", 5, "click", "rolling", "week", ZoneInfo("UTC"), count=2)
    assert week.seconds == 14 * 86_400
    assert week.bucket(datetime(2026, 11, 22, tzinfo=UTC)) == "rolling"
    assert week.key != core.Cap("global", 5, "click", "rolling", "week", ZoneInfo("UTC")).key
    assert week.describe() == "5 clicks for everyone in any 2 weeks"


def test_caps_that_share_a_counter_are_one_cap_with_the_tightest_limit() -> None:
    utc = ZoneInfo("UTC")

    def cap(limit: int, window: str = "lifetime", unit: str | None = None) -> core.Cap:
        return core.Cap("profile", limit, "decision", window, unit, utc)

    for written in ((cap(3), cap(1)), (cap(1), cap(3))):
        found = core.OfferDef(
            **{**vars_of(offer("x", 1)), "caps": (*written, cap(2, "calendar", "day"))}
        )
        assert [(c.limit, c.window) for c in found.caps] == [(1, "lifetime"), (2, "calendar")]


def vars_of(made: core.OfferDef) -> dict[str, Any]:
    """The fields an offer was made with."""
    names = ("id", "name", "priority", "start", "end", "content", "eligibility", "caps", "facts")
    return {name: getattr(made, name) for name in names}


MODEL = core.Model("thompson", "accept", 1.0, 19.0)


def test_the_posterior_pools_an_offers_placements() -> None:
    bags, other = uuid.uuid4(), uuid.uuid4()
    estimates = learning.Estimates.of(
        {
            (bags, "hero"): (20, 2, 15),  # impressions, clicks, accepts
            (bags, "email"): (60, 0, 5),
        }
    )
    assert estimates.posterior(other, "hero", MODEL) == (1.0, 19.0)  # the prior
    # Everywhere: (1 + 20) / (20 + 80) = 0.21, the prior of each placement with weight 20.
    a, b = estimates.posterior(bags, "kiosk", MODEL)  # no feedback there yet
    assert (a, b) == pytest.approx((4.2, 15.8))
    a, b = estimates.posterior(bags, "hero", MODEL)
    assert (a, b) == pytest.approx((4.2 + 15, 15.8 + 5))
    clicks = core.Model("mean", "click", 1.0, 19.0)
    a, b = estimates.posterior(bags, "hero", clicks)
    assert (a, b) == pytest.approx((20 * 3 / 100 + 2, 20 * 97 / 100 + 18))


def _candidate(a: float, b: float, worth: float = 1) -> core.Candidate:
    made = offer(f"o{a}-{b}", 0, value=Decimal(str(worth)))
    return core.Candidate(made, 0.0, None, (a, b))


def test_the_propensity_is_the_policys_chance_of_the_choice() -> None:
    rng = np.random.default_rng(7)
    same = [_candidate(5, 5), _candidate(5, 5)]
    assert core.propensity(MODEL, same, same[0], rng) == pytest.approx(0.5, abs=0.05)
    sure = [_candidate(900, 100), _candidate(100, 900)]
    assert core.propensity(MODEL, sure, sure[1], rng) == 1 / core.PROPENSITY_DRAWS  # never 0
    assert core.propensity(MODEL, sure[:1], sure[0], rng) == 1.0
    mean = core.Model("mean", "accept", 1.0, 19.0)
    assert core.propensity(mean, same, same[1], rng) == 1.0
    # Value counts: a rate of ~0.1 worth 10 beats one of ~0.5 worth 1.
    worth = [_candidate(100, 900, worth=10), _candidate(500, 500)]
    assert core.propensity(MODEL, worth, worth[0], rng) > 0.99
