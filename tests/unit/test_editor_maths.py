"""The pure parts of the flag and experiment screens: the sample-size formula against a textbook
figure and an independent method, and the condition builder's reading of conditions."""

from __future__ import annotations

import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from offerengine.experiments.assignment import VALUE_OPERATORS
from offerengine.experiments.stats import sample_size
from offerengine.web.pages.flag_forms import OPERATORS, condition_rows, shown, typed


def test_ten_percent_baseline_and_two_points_need_3841_per_group() -> None:
    # Fleiss' two-proportion formula by hand: p1 = .10, p2 = .12, p̄ = .11, z = 1.95996, 0.84162:
    # (1.95996·√(2·.11·.89) + 0.84162·√(.09 + .1056))² / .02² = 1.53634 / .0004 = 3840.8 → 3841.
    assert sample_size(0.10, 0.02) == 3841
    assert sample_size(0.10, 0.20, relative=True) == 3841


def test_the_figure_agrees_with_statsmodels_arcsine_method() -> None:
    # Cohen's h (an arcsine transform, a different approximation) lands within 0.5 %.
    for baseline, effect in ((0.10, 0.02), (0.30, 0.05), (0.02, 0.005)):
        h = proportion_effectsize(baseline + effect, baseline)
        other = NormalIndPower().solve_power(h, alpha=0.05, power=0.8, ratio=1)
        assert sample_size(baseline, effect) == pytest.approx(other, rel=0.005)


def test_more_power_a_smaller_effect_or_more_treatments_need_more_units() -> None:
    base = sample_size(0.10, 0.02)
    assert sample_size(0.10, 0.02, power=0.9) > base
    assert sample_size(0.10, 0.01) > 3 * base  # a quarter of the effect² roughly: ×4
    assert sample_size(0.10, 0.02, comparisons=2) > base  # alpha split between two treatments
    assert sample_size(0.10, -0.02) < base  # a drop near 0 varies less than a rise


@pytest.mark.parametrize(
    ("baseline", "effect", "relative"),
    [
        (0.0, 0.02, False),
        (1.0, 0.02, False),
        (0.95, 0.10, False),
        (0.10, 0.0, False),
        (0.5, 1.5, True),
    ],
)
def test_impossible_designs_are_refused(baseline: float, effect: float, relative: bool) -> None:
    with pytest.raises(ValueError, match=r"between 0 and 1|zero"):
        sample_size(baseline, effect, relative=relative)


def test_the_builder_offers_only_growthbook_operators() -> None:
    assert {o.op for o in OPERATORS} <= VALUE_OPERATORS


def test_a_condition_reads_as_rows_that_type_their_values_back() -> None:
    condition = {
        "segment": {"$in": ["vip", "premium"]},
        "age": {"$gte": 18, "$lt": 65},
        "country": "TR",
        "code": "18",
        "beta": True,
    }
    rows = condition_rows(condition)
    assert rows == [
        {"attribute": "segment", "operator": "$in", "value": "vip, premium"},
        {"attribute": "age", "operator": "$gte", "value": "18"},
        {"attribute": "age", "operator": "$lt", "value": "65"},
        {"attribute": "country", "operator": "$eq", "value": "TR"},
        {"attribute": "code", "operator": "$eq", "value": '"18"'},  # text, not the number
        {"attribute": "beta", "operator": "$eq", "value": "true"},
    ]
    assert [typed(r["value"]) for r in rows[1:]] == [18, 65, "TR", "18", True]
    assert condition_rows({"$and": [{"a": 1}, {"a": {"$ne": 2}}]}) == [
        {"attribute": "a", "operator": "$eq", "value": "1"},
        {"attribute": "a", "operator": "$ne", "value": "2"},
    ]


@pytest.mark.parametrize(
    "condition",
    [
        {"$or": [{"a": 1}, {"b": 2}]},
        {"a": {"$not": {"$eq": 1}}},
        {"a": {"b": 1}},
        {"a": [1, 2]},
        {"a": {"$in": ["x,y"]}},
        {"a": {"$elemMatch": {"$gt": 1}}},
    ],
)
def test_conditions_the_builder_cannot_show_stay_json(condition: dict[str, object]) -> None:
    assert condition_rows(condition) is None


def test_values_show_as_they_read_back() -> None:
    for value in ("vip", "18", "true", " padded", 3, 2.5, True, None, ""):
        text = shown(value)
        assert text is not None
        assert typed(text) == value
        assert type(typed(text)) is type(value)
    assert condition_rows(None) == []
    assert condition_rows({}) == []
