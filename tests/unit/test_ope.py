"""The offline policy estimators on simulated logs where the target policy's true value is known:
unbiased where theory says so, intervals that cover the truth about as often as they claim, and
inputs checked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from offerengine.learning import ope

CONTEXTS, ACTIONS = 6, 4


@dataclass
class Logs:
    rewards: np.ndarray
    behavior: np.ndarray
    target: np.ndarray
    hat_logged: np.ndarray
    hat_target: np.ndarray
    truth: float
    mean_reward: float


def simulate(n: int, seed: int, *, model_bias: float = 0.0, epsilon: float = 0.4) -> Logs:
    """A world of click probabilities per (context, action); a behaviour policy that mostly shows
    action 0 and explores with ``epsilon``; a target policy that shows each context's best action
    90% of the time. The truth is computed from the world, not estimated."""
    world = np.random.default_rng(7)
    p = world.uniform(0.02, 0.5, (CONTEXTS, ACTIONS))
    behavior = np.full((CONTEXTS, ACTIONS), epsilon / ACTIONS)
    behavior[:, 0] += 1 - epsilon
    target = np.full((CONTEXTS, ACTIONS), 0.1 / ACTIONS)
    target[np.arange(CONTEXTS), p.argmax(axis=1)] += 0.9
    truth = float((target * p).sum(axis=1).mean())  # contexts are equally likely

    rng = np.random.default_rng(seed)
    x = rng.integers(0, CONTEXTS, n)
    cumulative = behavior[x].cumsum(axis=1)
    a = (rng.random(n)[:, None] > cumulative).sum(axis=1)
    r = (rng.random(n) < p[x, a]).astype(float)
    p_hat = np.clip(p + model_bias, 0, 1)  # the reward model: exact, or biased
    return Logs(
        rewards=r,
        behavior=behavior[x, a],
        target=target[x, a],
        hat_logged=p_hat[x, a],
        hat_target=(target[x] * p_hat[x]).sum(axis=1),
        truth=truth,
        mean_reward=float(r.mean()),
    )


def test_each_estimator_finds_the_target_policys_value() -> None:
    logs = simulate(60_000, seed=1, model_bias=0.08)
    assert abs(logs.mean_reward - logs.truth) > 0.05  # the logs alone would mislead
    found = {
        "ips": ope.ips(logs.rewards, logs.behavior, logs.target),
        "snips": ope.snips(logs.rewards, logs.behavior, logs.target),
        "dr": ope.doubly_robust(
            logs.rewards, logs.behavior, logs.target, logs.hat_logged, logs.hat_target
        ),
    }
    for name, estimate in found.items():
        assert estimate.low <= logs.truth <= estimate.high, (name, estimate, logs.truth)
        assert abs(estimate.value - logs.truth) < 0.015, name
    # The direct method is as good as its model: with this biased one it misses, and its
    # interval (sampling noise only) does not cover the truth. Doubly robust corrects it.
    biased = ope.direct_method(logs.hat_target)
    assert not biased.low <= logs.truth <= biased.high
    assert abs(biased.value - logs.truth) > 0.05


def test_the_direct_method_with_the_true_model_is_exact_up_to_the_contexts() -> None:
    logs = simulate(20_000, seed=2)
    estimate = ope.direct_method(logs.hat_target)
    assert abs(estimate.value - logs.truth) < 0.005
    assert estimate.effective_n is None


def test_doubly_robust_with_a_good_model_is_tighter_than_ips() -> None:
    logs = simulate(20_000, seed=3)
    dr = ope.doubly_robust(
        logs.rewards, logs.behavior, logs.target, logs.hat_logged, logs.hat_target
    )
    ips = ope.ips(logs.rewards, logs.behavior, logs.target)
    assert dr.high - dr.low < 0.9 * (ips.high - ips.low)


@pytest.mark.parametrize("method", ["ips", "snips", "dr"])
def test_intervals_cover_the_truth_about_as_often_as_they_claim(method: str) -> None:
    covered = 0
    runs = 300
    for seed in range(runs):
        logs = simulate(3_000, seed=100 + seed, model_bias=0.05)
        if method == "ips":
            found = ope.ips(logs.rewards, logs.behavior, logs.target)
        elif method == "snips":
            found = ope.snips(logs.rewards, logs.behavior, logs.target)
        else:
            found = ope.doubly_robust(
                logs.rewards, logs.behavior, logs.target, logs.hat_logged, logs.hat_target
            )
        covered += found.low <= logs.truth <= found.high
    assert 0.90 <= covered / runs <= 0.99, covered / runs


def test_bootstrap_intervals_agree_with_the_normal_ones() -> None:
    logs = simulate(5_000, seed=4)
    for estimator in (ope.ips, ope.snips):
        normal = estimator(logs.rewards, logs.behavior, logs.target)
        boot = estimator(logs.rewards, logs.behavior, logs.target, interval="bootstrap", seed=1)
        assert boot.interval == "bootstrap"
        assert boot.value == normal.value
        assert abs((boot.high - boot.low) / (normal.high - normal.low) - 1) < 0.2
        again = estimator(logs.rewards, logs.behavior, logs.target, interval="bootstrap", seed=1)
        assert again == boot  # seeded: repeatable


def test_on_policy_the_estimate_is_the_mean_reward() -> None:
    rewards = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    p = np.array([0.5, 0.2, 0.9, 0.4, 0.1])
    for estimator in (ope.ips, ope.snips):
        found = estimator(rewards, p, p)
        assert found.value == pytest.approx(0.6)
        assert found.effective_n == pytest.approx(5)
    wider = ope.ips(rewards, p, p, level=0.99)
    narrower = ope.ips(rewards, p, p, level=0.8)
    assert wider.high - wider.low > narrower.high - narrower.low
    assert ope.ips([1.0], [0.5], [0.5]).high == float("inf")  # one row: no interval to speak of


def test_estimates_read_as_a_row() -> None:
    row = ope.ips([1.0, 0.0], [0.5, 0.5], [1.0, 0.0]).as_dict()
    assert row["method"] == "ips"
    assert row["value"] == pytest.approx(1.0)
    assert row["interval"] == "normal"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ope.ips([1, 0], [0.5], [0.5, 0.5]), "behavior_propensity has 1 values"),
        (
            lambda: ope.ips([1, 0], [0.5, 0.0], [0.5, 0.5]),
            r"behavior_propensity must be probabilities in \(0, 1\]",
        ),
        (
            lambda: ope.ips([1, 0], [0.5, 0.5], [0.5, 1.5]),
            r"target_propensity must be probabilities in \[0, 1\]",
        ),
        (
            lambda: ope.snips([1, float("nan")], [0.5, 0.5], [0.5, 0.5]),
            "rewards has values that are not finite",
        ),
        (lambda: ope.snips([1, 0], [0.5, 0.5], [0.0, 0.0]), "SNIPS is undefined"),
        (lambda: ope.direct_method([]), "rewards_hat_target is empty"),
        (lambda: ope.direct_method([[1.0]]), "1-d array"),
        (
            lambda: ope.doubly_robust([1, 0], [0.5, 0.5], [0.5, 0.5], [0.1], [0.1, 0.2]),
            "rewards_hat_logged has 1 values",
        ),
        (lambda: ope.ips([1, 0], [0.5, 0.5], [0.5, 0.5], interval="jackknife"), "interval must be"),  # type: ignore[arg-type]
        (lambda: ope.ips([1, 0], [0.5, 0.5], [0.5, 0.5], level=1.5), "level must be"),
        (
            lambda: ope.ips([1, 0], [0.5, 0.5], [0.5, 0.5], interval="bootstrap", resamples=5),
            "resamples",
        ),
    ],
)
def test_bad_input_is_named(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call()
