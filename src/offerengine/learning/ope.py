"""Offline policy evaluation: what a target policy would have earned, estimated from the logs of
the policy that was serving (the behaviour policy), before the target ever serves.

Pure functions over numpy arrays, one row per logged decision:

- ``rewards``: what the logged action earned (a click, an accept, a margin …);
- ``behavior_propensity``: the probability the serving policy gave the logged action;
- ``target_propensity``: the probability the target policy gives that same action in that context;
- ``rewards_hat_logged``: a reward model's prediction for the logged action;
- ``rewards_hat_target``: the model's expected reward under the target policy in that context
  (Σ over actions of target probability × predicted reward).

Each estimator returns an :class:`Estimate` with a 95% confidence interval (``level`` changes it):
by the **normal approximation** (the estimate's per-row terms are averaged, so the central limit
theorem applies; SNIPS uses the delta method) unless ``interval="bootstrap"`` asks for a
percentile bootstrap over rows. The direct method's interval covers sampling noise only, not the
reward model's error: that is why doubly robust exists.

References: Horvitz & Thompson (1952) for IPS; Swaminathan & Joachims (2015) for SNIPS; Dudík,
Langford & Li (2011) for doubly robust.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt


def _stats() -> Any:
    """scipy.stats, imported on first use: a second of every worker's start otherwise."""
    from scipy import stats

    return stats


Array = npt.ArrayLike
Interval = Literal["normal", "bootstrap"]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A policy value with its confidence interval."""

    value: float
    low: float
    high: float
    n: int
    method: str  # ips | snips | dm | dr
    interval: str  # how the interval was made: normal | bootstrap
    level: float = 0.95
    effective_n: float | None = None  # importance-weighted estimators: (Σw)² / Σw²

    def as_dict(self) -> dict[str, float | int | str | None]:
        return {
            "method": self.method,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "n": self.n,
            "interval": self.interval,
            "level": self.level,
            "effective_n": self.effective_n,
        }


def _vector(name: str, values: Array, n: int | None = None) -> Floats:
    found = np.asarray(values, dtype=np.float64)
    if found.ndim != 1:
        raise ValueError(f"{name} must be one value per logged decision (a 1-d array)")
    if found.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to evaluate")
    if n is not None and found.size != n:
        raise ValueError(f"{name} has {found.size} values, rewards has {n}")
    if not np.all(np.isfinite(found)):
        raise ValueError(f"{name} has values that are not finite numbers")
    return found


def _propensity(name: str, values: Array, n: int, *, zero_allowed: bool) -> Floats:
    found = _vector(name, values, n)
    low_ok = found >= 0 if zero_allowed else found > 0
    if not np.all(low_ok & (found <= 1)):
        bound = "[0, 1]" if zero_allowed else "(0, 1]"
        raise ValueError(f"{name} must be probabilities in {bound}")
    return found


def _weights(rewards: Array, behavior: Array, target: Array) -> tuple[Floats, Floats]:
    r = _vector("rewards", rewards)
    b = _propensity("behavior_propensity", behavior, r.size, zero_allowed=False)
    t = _propensity("target_propensity", target, r.size, zero_allowed=True)
    return r, t / b


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    return float(_stats().norm.ppf(0.5 + level / 2))


def _normal(terms: Floats, level: float) -> tuple[float, float, float]:
    value = float(terms.mean())
    if terms.size < 2:
        return value, float("-inf"), float("inf")
    half = _z(level) * float(terms.std(ddof=1)) / float(np.sqrt(terms.size))
    return value, value - half, value + half


def _bootstrap(
    statistic: Callable[[npt.NDArray[np.intp]], float],
    n: int,
    level: float,
    resamples: int,
    seed: int | None,
) -> tuple[float, float]:
    _z(level)
    if resamples < 100:
        raise ValueError("resamples must be at least 100")
    rng = np.random.default_rng(seed)
    values = np.fromiter(
        (statistic(rng.integers(0, n, n)) for _ in range(resamples)), np.float64, resamples
    )
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)  # plain floats, not numpy scalars


def _effective_n(w: Floats) -> float:
    total = float((w**2).sum())
    return float(w.sum() ** 2 / total) if total > 0 else 0.0


def _mean_estimate(
    method: str,
    terms: Floats,
    interval: Interval,
    level: float,
    resamples: int,
    seed: int | None,
    effective_n: float | None,
) -> Estimate:
    value, low, high = _normal(terms, level)
    if interval == "bootstrap":
        low, high = _bootstrap(lambda i: float(terms[i].mean()), terms.size, level, resamples, seed)
    elif interval != "normal":
        raise ValueError("interval must be 'normal' or 'bootstrap'")
    return Estimate(value, low, high, terms.size, method, interval, level, effective_n)


def ips(
    rewards: Array,
    behavior_propensity: Array,
    target_propensity: Array,
    *,
    interval: Interval = "normal",
    level: float = 0.95,
    resamples: int = 2000,
    seed: int | None = None,
) -> Estimate:
    """Inverse propensity scoring: the mean of reward × target/behaviour probability. Unbiased
    when the behaviour policy gave every action the target takes a chance; high variance when
    the two policies differ much (see ``effective_n``)."""
    r, w = _weights(rewards, behavior_propensity, target_propensity)
    return _mean_estimate("ips", w * r, interval, level, resamples, seed, _effective_n(w))


def snips(
    rewards: Array,
    behavior_propensity: Array,
    target_propensity: Array,
    *,
    interval: Interval = "normal",
    level: float = 0.95,
    resamples: int = 2000,
    seed: int | None = None,
) -> Estimate:
    """Self-normalised IPS: Σ w·r / Σ w. Slightly biased, far less variable than IPS, and always
    within the range of the rewards. The normal interval uses the delta method."""
    r, w = _weights(rewards, behavior_propensity, target_propensity)
    total = float(w.sum())
    if total <= 0:
        raise ValueError("the target policy gives no logged action any chance: SNIPS is undefined")
    value = float((w * r).sum() / total)
    n = r.size
    if interval == "bootstrap":

        def statistic(i: npt.NDArray[np.intp]) -> float:
            weights = w[i]
            mass = float(weights.sum())
            return float((weights * r[i]).sum() / mass) if mass > 0 else value

        low, high = _bootstrap(statistic, n, level, resamples, seed)
    elif interval == "normal":
        # Delta method for a ratio of means: Var ≈ Σ w²(r − v)² / (Σw)².
        half = _z(level) * float(np.sqrt((w**2 * (r - value) ** 2).sum()) / total)
        low, high = value - half, value + half
    else:
        raise ValueError("interval must be 'normal' or 'bootstrap'")
    return Estimate(value, low, high, n, "snips", interval, level, _effective_n(w))


def direct_method(
    rewards_hat_target: Array,
    *,
    interval: Interval = "normal",
    level: float = 0.95,
    resamples: int = 2000,
    seed: int | None = None,
) -> Estimate:
    """The reward model's own answer: the mean over logged contexts of the expected reward under
    the target policy. As good as the model; its interval ignores the model's error."""
    terms = _vector("rewards_hat_target", rewards_hat_target)
    return _mean_estimate("dm", terms, interval, level, resamples, seed, None)


def doubly_robust(
    rewards: Array,
    behavior_propensity: Array,
    target_propensity: Array,
    rewards_hat_logged: Array,
    rewards_hat_target: Array,
    *,
    interval: Interval = "normal",
    level: float = 0.95,
    resamples: int = 2000,
    seed: int | None = None,
) -> Estimate:
    """The direct method corrected by IPS on the model's residuals: r̂_target + w·(r − r̂_logged).
    Unbiased if either the propensities or the reward model are right; less variable than IPS
    when the model is good."""
    r, w = _weights(rewards, behavior_propensity, target_propensity)
    logged = _vector("rewards_hat_logged", rewards_hat_logged, r.size)
    target = _vector("rewards_hat_target", rewards_hat_target, r.size)
    terms = target + w * (r - logged)
    return _mean_estimate("dr", terms, interval, level, resamples, seed, _effective_n(w))
