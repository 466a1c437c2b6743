"""The decisioning core without a database: cap windows, candidate order, the funnel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from offerengine.decisioning import core, service
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
