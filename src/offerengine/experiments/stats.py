"""The statistics of an experiment: lifts, intervals, p-values, Bayesian risk, sample-ratio check.

Every metric is analysed per unit: each exposed unit contributes one number (1/0 for a conversion,
its summed event values for revenue, its event count for a count), so an arm is fully described by
`units`, the sum and the sum of squares of those numbers.

- Conversion metrics: a two-proportion z-test with the pooled proportion (statsmodels'
  `proportions_ztest` default); Beta(1 + conversions, 1 + failures) posteriors for the Bayesian view.
- Revenue and count metrics: Welch's t-test (unequal variances); a normal approximation of the
  difference of means for the Bayesian view.
- Relative lift `mean_t / mean_c − 1` has a delta-method interval:
  `var ≈ var_t/(n_t·m_c²) + m_t²·var_c/(n_c·m_c⁴)`.
- The sample-ratio check is Pearson's chi-square of the units per arm against the configured weights.
- With several treatments, the significance level is split between them (Bonferroni), so running
  more arms does not make a false "ship" more likely.

Everything is pure: numbers in, a `Comparison` and a `Verdict` out.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np


def _stats() -> Any:
    """scipy.stats, imported on first use: a second of every worker's start otherwise."""
    from scipy import stats

    return stats


__all__ = [
    "Arm",
    "Comparison",
    "Verdict",
    "compare",
    "sample_ratio_p_value",
    "sample_size",
    "verdict",
]

MetricKind = Literal["conversion", "revenue", "count"]
Decision = Literal["ship", "keep_running", "no_difference", "srm_warning"]

SRM_THRESHOLD = 0.001
_POSTERIOR_DRAWS = 50_000  # Monte Carlo error of the chance to win ≈ 0.002


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant's per-unit metric values, summarised."""

    key: str
    units: int
    total: float  # sum of the per-unit values (conversions for a conversion metric)
    total_sq: float  # sum of their squares

    @property
    def mean(self) -> float:
        return self.total / self.units if self.units else 0.0

    @property
    def variance(self) -> float:
        """The sample variance of the per-unit values (n − 1 in the denominator)."""
        if self.units < 2:
            return 0.0
        return max((self.total_sq - self.units * self.mean**2) / (self.units - 1), 0.0)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A treatment against control on one metric."""

    variant: str
    absolute_lift: float
    absolute_ci: tuple[float, float] | None
    relative_lift: float | None
    relative_ci: tuple[float, float] | None
    p_value: float | None
    test: str
    chance_to_beat_control: float | None
    expected_loss: float | None
    mde_relative: float | None


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    winner: str | None
    reason: str
    alpha: float


def _z(level: float) -> float:
    return float(_stats().norm.ppf(level))


def compare(
    kind: MetricKind,
    control: Arm,
    treatment: Arm,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    seed: int = 0,
) -> Comparison:
    """Compare a treatment with control: lift, interval, p-value, chance to win, risk, MDE."""
    m_c, m_t = control.mean, treatment.mean
    abs_lift = m_t - m_c
    if control.units < 2 or treatment.units < 2:
        test = "two-proportion z-test" if kind == "conversion" else "Welch's t-test"
        rel = abs_lift / m_c if m_c else None
        return Comparison(treatment.key, abs_lift, None, rel, None, None, test, None, None, None)

    v_c, v_t = _variance(kind, control), _variance(kind, treatment)
    se = math.sqrt(v_t / treatment.units + v_c / control.units)
    z = _z(1 - alpha / 2)
    abs_ci = (abs_lift - z * se, abs_lift + z * se)

    rel = rel_ci = mde = None
    if m_c != 0:
        rel = m_t / m_c - 1
        rel_se = math.sqrt(
            v_t / (treatment.units * m_c**2) + m_t**2 * v_c / (control.units * m_c**4)
        )
        rel_ci = (rel - z * rel_se, rel + z * rel_se)
        mde = (z + _z(power)) * se / abs(m_c)

    if kind == "conversion":
        test = "two-proportion z-test"
        p_value = _proportions_p_value(control, treatment)
        chance, loss = _beta_risk(control, treatment, seed)
    else:
        test = "Welch's t-test"
        p_value = _welch_p_value(control, treatment, v_c, v_t)
        chance, loss = _normal_risk(abs_lift, se)
    return Comparison(
        treatment.key, abs_lift, abs_ci, rel, rel_ci, p_value, test, chance, loss, mde
    )


def _variance(kind: MetricKind, arm: Arm) -> float:
    if kind == "conversion":
        p = arm.mean
        return p * (1 - p)
    return arm.variance


def _proportions_p_value(control: Arm, treatment: Arm) -> float | None:
    n_c, n_t = control.units, treatment.units
    pooled = (control.total + treatment.total) / (n_c + n_t)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    if se == 0:
        return None if control.mean == treatment.mean else 0.0
    z = (treatment.mean - control.mean) / se
    return float(2 * _stats().norm.sf(abs(z)))


def _welch_p_value(control: Arm, treatment: Arm, v_c: float, v_t: float) -> float | None:
    if v_c == 0 and v_t == 0:
        return None if control.mean == treatment.mean else 0.0
    result = _stats().ttest_ind_from_stats(
        treatment.mean, math.sqrt(v_t), treatment.units,
        control.mean, math.sqrt(v_c), control.units,
        equal_var=False,
    )  # fmt: skip
    return float(result.pvalue)


def _beta_risk(control: Arm, treatment: Arm, seed: int) -> tuple[float, float]:
    """Chance that the treatment's rate beats control's, and the expected loss of shipping it."""
    rng = np.random.default_rng(seed)
    c = rng.beta(1 + control.total, 1 + control.units - control.total, _POSTERIOR_DRAWS)
    t = rng.beta(1 + treatment.total, 1 + treatment.units - treatment.total, _POSTERIOR_DRAWS)
    return float(np.mean(t > c)), float(np.mean(np.maximum(c - t, 0.0)))


def _normal_risk(diff: float, se: float) -> tuple[float, float]:
    if se == 0:
        return (1.0 if diff > 0 else 0.0), max(-diff, 0.0)
    ratio = diff / se
    chance = float(_stats().norm.cdf(ratio))
    # E[max(−D, 0)] for D ~ N(diff, se²).
    loss = se * float(_stats().norm.pdf(ratio)) - diff * float(_stats().norm.cdf(-ratio))
    return chance, max(loss, 0.0)


def sample_ratio_p_value(units: Sequence[int], weights: Sequence[float]) -> float | None:
    """Pearson's chi-square p-value of the observed units per arm against the weights."""
    total = sum(units)
    weight_sum = sum(weights)
    if total == 0 or len(units) < 2 or weight_sum <= 0:
        return None
    expected = [total * w / weight_sum for w in weights]
    if any(e == 0 for e in expected):
        return None
    return float(_stats().chisquare(list(units), expected).pvalue)


def verdict(
    comparisons: Sequence[Comparison],
    *,
    control: str,
    srm_p_value: float | None,
    alpha: float = 0.05,
    minimum_effect: float = 0.05,
    minimum_units: int = 100,
    smallest_arm: int = 0,
) -> Verdict:
    """Decide what to do with the experiment from its primary metric's comparisons."""
    if srm_p_value is not None and srm_p_value < SRM_THRESHOLD:
        return Verdict(
            "srm_warning",
            None,
            f"units per variant differ from the weights (chi-square p = {srm_p_value:.2g}); "
            "fix the assignment before trusting any result",
            alpha,
        )
    if smallest_arm < minimum_units or not comparisons:
        return Verdict(
            "keep_running",
            None,
            f"every variant needs at least {minimum_units} units before a verdict",
            alpha,
        )
    level = alpha / len(comparisons)
    significant = [c for c in comparisons if c.p_value is not None and c.p_value < level]
    better = [c for c in significant if c.absolute_lift > 0]
    if better:
        best = max(better, key=lambda c: c.absolute_lift)
        return Verdict(
            "ship",
            best.variant,
            f"{best.variant} beats {control} (p = {best.p_value:.2g} < {level:.3g})",
            alpha,
        )
    if significant and len(significant) == len(comparisons):
        return Verdict(
            "ship",
            control,
            f"every variant does worse than {control}: keep {control}",
            alpha,
        )
    mdes = [c.mde_relative for c in comparisons]
    if all(m is not None and m <= minimum_effect for m in mdes):
        return Verdict(
            "no_difference",
            None,
            f"no variant differs from {control}, and a {minimum_effect:.0%} relative effect "
            "would have been detected with 80% power",
            alpha,
        )
    return Verdict(
        "keep_running",
        None,
        f"not significant yet; the sample cannot detect a {minimum_effect:.0%} relative effect",
        alpha,
    )


def sample_size(
    baseline: float,
    effect: float,
    *,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    comparisons: int = 1,
) -> int:
    """Units per variant to detect ``effect`` on a conversion rate of ``baseline`` (fractions),
    two-sided at ``alpha`` split between ``comparisons`` treatments (Bonferroni, as the
    verdict splits it), with ``power``: the two-proportion formula without continuity
    correction (Fleiss), ``n = (z(1 − alpha/2)·√(2p̄q̄) + z(power)·√(p₁q₁ + p₂q₂))² /
    (p₂ − p₁)²``, p̄ the mean of the two rates, rounded up. ``effect`` is absolute (0.02: two points) or, with
    ``relative``, a share of the baseline (0.2: 10 % → 12 %). ValueError when the rates leave
    (0, 1) or the effect is nil."""
    if not 0 < baseline < 1:
        raise ValueError("the baseline rate must be between 0 and 1")
    treated = baseline * (1 + effect) if relative else baseline + effect
    if not 0 < treated < 1:
        raise ValueError("the baseline with the effect must stay between 0 and 1")
    if treated == baseline:
        raise ValueError("the effect must not be zero")
    if not (0 < alpha < 1 and 0 < power < 1 and comparisons >= 1):
        raise ValueError("alpha and power are between 0 and 1, comparisons at least 1")
    z_alpha = _z(1 - alpha / comparisons / 2)
    z_power = _z(power)
    mean = (baseline + treated) / 2
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(
        baseline * (1 - baseline) + treated * (1 - treated)
    )
    return math.ceil(spread**2 / (treated - baseline) ** 2)
