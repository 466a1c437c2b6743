"""Experiment statistics against statsmodels and scipy, and simulated experiments with known truth."""

import math

import numpy as np
import pytest
from scipy import stats as sp
from statsmodels.stats.proportion import proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from offerengine.experiments.stats import Arm, compare, sample_ratio_p_value, verdict


def conversion_arm(key: str, units: int, conversions: int) -> Arm:
    return Arm(key, units, conversions, conversions)


def values_arm(key: str, values: np.ndarray) -> Arm:
    return Arm(key, len(values), float(values.sum()), float((values**2).sum()))


def test_the_conversion_p_value_is_statsmodels_two_proportion_z_test() -> None:
    control, treatment = conversion_arm("control", 1000, 100), conversion_arm("b", 1000, 128)
    result = compare("conversion", control, treatment)
    _, reference = proportions_ztest([128, 100], [1000, 1000])
    assert result.p_value == pytest.approx(reference, rel=1e-9)
    assert result.test == "two-proportion z-test"
    assert result.absolute_lift == pytest.approx(0.028)
    assert result.relative_lift == pytest.approx(0.28)


def test_the_absolute_interval_is_the_unpooled_wald_interval() -> None:
    control, treatment = conversion_arm("control", 2000, 300), conversion_arm("b", 2000, 360)
    result = compare("conversion", control, treatment)
    se = math.sqrt(0.18 * 0.82 / 2000 + 0.15 * 0.85 / 2000)
    assert result.absolute_ci == pytest.approx((0.03 - 1.959964 * se, 0.03 + 1.959964 * se))


def test_the_revenue_p_value_is_scipy_welch_t_test() -> None:
    rng = np.random.default_rng(7)
    a = rng.exponential(20, 800) * (rng.random(800) < 0.3)
    b = rng.exponential(24, 900) * (rng.random(900) < 0.3)
    result = compare("revenue", values_arm("control", a), values_arm("b", b))
    assert result.p_value == pytest.approx(sp.ttest_ind(b, a, equal_var=False).pvalue, rel=1e-9)
    assert result.test == "Welch's t-test"
    low, high = CompareMeans(DescrStatsW(b), DescrStatsW(a)).tconfint_diff(usevar="unequal")
    # Ours is the normal (z) interval; with 800+ units per arm it agrees with the t interval closely.
    assert result.absolute_ci == pytest.approx((low, high), rel=0.01)


def test_the_relative_interval_is_the_delta_method_interval() -> None:
    # Worked by hand: m_c = 0.10, m_t = 0.12, n = 10,000 each.
    control, treatment = conversion_arm("control", 10_000, 1000), conversion_arm("b", 10_000, 1200)
    result = compare("conversion", control, treatment)
    var = 0.12 * 0.88 / (10_000 * 0.01) + 0.0144 * 0.09 / (10_000 * 0.0001)
    half = 1.959964 * math.sqrt(var)
    assert result.relative_ci == pytest.approx((0.2 - half, 0.2 + half), rel=1e-5)


def test_the_chance_to_beat_control_grows_with_the_evidence() -> None:
    control = conversion_arm("control", 5000, 500)
    small = compare("conversion", control, conversion_arm("b", 5000, 520))
    large = compare("conversion", control, conversion_arm("b", 5000, 600))
    assert small.chance_to_beat_control is not None
    assert large.chance_to_beat_control is not None
    assert 0.5 < small.chance_to_beat_control < large.chance_to_beat_control
    assert large.chance_to_beat_control > 0.99
    assert large.expected_loss is not None
    assert large.expected_loss < 1e-4


def test_the_normal_expected_loss_matches_its_closed_form_by_simulation() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(10, 4, 400), rng.normal(10.3, 4, 400)
    result = compare("revenue", values_arm("control", a), values_arm("b", b))
    se = math.sqrt(b.var(ddof=1) / 400 + a.var(ddof=1) / 400)
    draws = rng.normal(b.mean() - a.mean(), se, 400_000)
    assert result.expected_loss == pytest.approx(np.maximum(-draws, 0).mean(), rel=0.02)
    assert result.chance_to_beat_control == pytest.approx((draws > 0).mean(), abs=0.005)


def test_sample_ratio_mismatch_is_scipy_chi_square() -> None:
    assert sample_ratio_p_value([5000, 5200], [0.5, 0.5]) == pytest.approx(
        sp.chisquare([5000, 5200]).pvalue
    )
    assert sample_ratio_p_value([5000, 5800], [0.5, 0.5]) < 0.001
    assert sample_ratio_p_value([0, 0], [0.5, 0.5]) is None


def test_an_srm_outranks_every_other_verdict() -> None:
    result = compare("conversion", conversion_arm("c", 5000, 500), conversion_arm("b", 5800, 800))
    decided = verdict([result], control="c", srm_p_value=1e-9, smallest_arm=5000)
    assert decided.decision == "srm_warning"


def test_too_few_units_keep_the_experiment_running() -> None:
    result = compare("conversion", conversion_arm("c", 50, 5), conversion_arm("b", 50, 30))
    assert verdict([result], control="c", srm_p_value=0.5, smallest_arm=50).decision == (
        "keep_running"
    )


def simulate(rng: np.random.Generator, units: int, rates: tuple[float, float]) -> tuple[Arm, Arm]:
    assigned = rng.random(units) < 0.5
    arms = []
    for key, mask, rate in (("control", ~assigned, rates[0]), ("treatment", assigned, rates[1])):
        n = int(mask.sum())
        arms.append(conversion_arm(key, n, int((rng.random(n) < rate).sum())))
    return arms[0], arms[1]


def test_a_known_lift_is_found_and_its_interval_covers_the_truth() -> None:
    rng = np.random.default_rng(2026)
    control, treatment = simulate(rng, 20_000, (0.10, 0.12))
    result = compare("conversion", control, treatment)
    assert result.relative_ci is not None
    assert result.absolute_ci is not None
    assert result.relative_ci[0] <= 0.20 <= result.relative_ci[1]
    assert result.absolute_ci[0] <= 0.02 <= result.absolute_ci[1]
    srm = sample_ratio_p_value([control.units, treatment.units], [0.5, 0.5])
    decided = verdict([result], control="control", srm_p_value=srm, smallest_arm=control.units)
    assert (decided.decision, decided.winner) == ("ship", "treatment")


def test_intervals_cover_the_true_lift_at_their_nominal_rate() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(300):
        control, treatment = simulate(rng, 4000, (0.10, 0.12))
        ci = compare("conversion", control, treatment).relative_ci
        assert ci is not None
        covered += ci[0] <= 0.20 <= ci[1]
    assert 0.91 <= covered / 300 <= 0.98


def test_an_a_a_test_rarely_gives_a_false_verdict() -> None:
    rng = np.random.default_rng(5)
    false_ships = 0
    for _ in range(300):
        control, treatment = simulate(rng, 4000, (0.10, 0.10))
        result = compare("conversion", control, treatment)
        srm = sample_ratio_p_value([control.units, treatment.units], [0.5, 0.5])
        decided = verdict(
            [result], control="control", srm_p_value=srm, smallest_arm=min(control.units, 2000)
        )
        false_ships += decided.decision in ("ship", "srm_warning")
    assert false_ships / 300 <= 0.08
