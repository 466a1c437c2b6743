"""The contextual bandits in a simulated world where the best offer depends on the context: they
learn it (more reward than priority ranking and than random), start exactly as the activity's own
ranking, log propensities that are probabilities, and keep what they learnt across a change of
settings and a round trip through plain data."""

from __future__ import annotations

import numpy as np
import pytest

from offerengine.learning import bandit

ARMS = [f"offer-{i}" for i in range(5)]
D = 6
PRIOR = np.array([5.0, 4.0, 3.0, 2.0, 1.0]) / 10  # the activity's priorities, best first


def world(seed: int = 11) -> np.ndarray:
    """Each offer's true weights: its click rate is clip(0.1 + x·θ, 0, 1)."""
    return np.random.default_rng(seed).normal(0, 0.12, (len(ARMS), D))


def context(rng: np.random.Generator) -> np.ndarray:
    x = rng.random(D)
    x[0] = 1.0  # an intercept
    return x


def click_rate(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.clip(0.1 + theta @ x, 0, 1)


def run(policy: str, rounds: int = 4_000, seed: int = 3) -> float:
    theta = world()
    rng = np.random.default_rng(seed)
    model = None
    if policy in bandit.METHODS:
        model = bandit.LinearBandit(D, bandit.Settings(method=policy, warmup=10))  # type: ignore[arg-type]
    total = 0.0
    for _ in range(rounds):
        x = context(rng)
        if policy == "random":
            arm = int(rng.integers(len(ARMS)))
        elif policy == "priority":
            arm = 0
        else:
            assert model is not None
            arm = model.choose(ARMS, x, PRIOR, rng).chosen
        reward = float(rng.random() < click_rate(theta[arm], x)[()])
        total += reward
        if model is not None:
            model.update(ARMS[arm], x, reward)
    return total


def test_the_truth_is_contextual() -> None:
    theta = world()
    rng = np.random.default_rng(0)
    best = {int(np.argmax([click_rate(t, context(rng)) for t in theta])) for _ in range(500)}
    assert len(best) > 1  # no one offer is best everywhere: there is something to learn


@pytest.mark.parametrize("method", bandit.METHODS)
def test_each_method_earns_more_than_priority_and_random(method: str) -> None:
    learnt = run(method)
    assert learnt > 1.1 * run("priority")
    assert learnt > 1.1 * run("random")


def test_cold_start_ranks_as_the_activity_does_never_at_random() -> None:
    rng = np.random.default_rng(0)
    for method in bandit.METHODS:
        model = bandit.LinearBandit(D, bandit.Settings(method=method))  # type: ignore[arg-type]
        for _ in range(50):
            choice = model.choose(ARMS, context(rng), PRIOR, rng)
            assert choice.order == (0, 1, 2, 3, 4), method
            assert choice.propensity == 1.0
            assert choice.confidence == (0.0,) * 5


def test_confidence_grows_with_feedback() -> None:
    model = bandit.LinearBandit(D, bandit.Settings(warmup=20))
    rng = np.random.default_rng(1)
    here = context(rng)
    for _ in range(20):
        model.update("offer-3", here, 1.0)
    choice = model.choose(ARMS, here, PRIOR, rng)
    weights = dict(zip(choice.order, choice.confidence, strict=True))
    assert weights[3] == pytest.approx(0.5, abs=0.02)  # 20 rewards here, warmup 20
    assert weights[0] == 0.0  # nothing learnt
    # Confidence is the posterior's in the context: elsewhere the same arm knows less.
    elsewhere = np.zeros(D)
    elsewhere[0], elsewhere[-1] = 1.0, 3.0
    far = model.choose(ARMS, elsewhere, PRIOR, rng)
    assert dict(zip(far.order, far.confidence, strict=True))[3] < weights[3] / 2


def test_propensities_are_probabilities_of_what_the_policy_does() -> None:
    rng = np.random.default_rng(2)
    theta = world()
    for method in ("thompson", "epsilon_greedy"):
        model = bandit.LinearBandit(
            D, bandit.Settings(method=method, warmup=1, epsilon=0.3, draws=1000)
        )  # type: ignore[arg-type]
        for _ in range(300):
            x = context(rng)
            arm = int(rng.integers(len(ARMS)))
            model.update(ARMS[arm], x, float(rng.random() < click_rate(theta[arm], x)))
        x = context(rng)
        firsts = [
            model.choose(ARMS, x, PRIOR, np.random.default_rng(s)).chosen for s in range(2_000)
        ]
        for s in range(20):
            choice = model.choose(ARMS, x, PRIOR, np.random.default_rng(s))
            observed = firsts.count(choice.chosen) / len(firsts)
            assert 0 < choice.propensity <= 1
            assert abs(choice.propensity - observed) < 0.06, (method, choice.propensity, observed)
            # Every candidate's chance of coming first, from the same draws.
            assert sum(choice.chances) == pytest.approx(1.0)
            assert choice.chances[choice.chosen] == pytest.approx(choice.propensity, abs=1e-3)
            shares = [firsts.count(i) / len(firsts) for i in range(len(ARMS))]
            assert np.abs(np.array(choice.chances) - shares).max() < 0.06
            exact = model.probabilities(ARMS, x, PRIOR, np.random.default_rng(s))
            if method == "epsilon_greedy":
                assert choice.chances == pytest.approx(tuple(exact))


def test_state_survives_plain_data_and_a_change_of_settings() -> None:
    rng = np.random.default_rng(4)
    model = bandit.LinearBandit(D, bandit.Settings(method="linucb"))
    for _ in range(100):
        model.update(ARMS[int(rng.integers(5))], context(rng), float(rng.random() < 0.3))
    x = context(rng)
    again = bandit.LinearBandit.from_dict(model.to_dict())
    assert again.choose(ARMS, x, PRIOR, rng).scores == model.choose(ARMS, x, PRIOR, rng).scores
    wider = model.with_settings(bandit.Settings(method="linucb", alpha=3.0))
    assert {k: a.n for k, a in wider.arms.items()} == {k: a.n for k, a in model.arms.items()}
    assert wider.settings.alpha == 3.0
    assert model.settings.alpha == 1.0  # the old version is untouched


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: bandit.Settings(method="greedy"), "method must be one of"),  # type: ignore[arg-type]
        (lambda: bandit.Settings(epsilon=2), "epsilon must be between"),
        (lambda: bandit.Settings(alpha=0), "alpha must be positive"),
        (lambda: bandit.LinearBandit(0), "dimension must be at least 1"),
        (lambda: bandit.LinearBandit(2).update("a", [1.0], 1.0), "2 finite numbers"),
        (lambda: bandit.LinearBandit(2).update("a", [1.0, 2.0], float("nan")), "finite number"),
        (
            lambda: bandit.LinearBandit(2).choose([], [1.0, 2.0], [], np.random.default_rng()),
            "at least one candidate",
        ),
        (
            lambda: bandit.LinearBandit(2).choose(
                ["a"], [1.0, 2.0], [1.0, 2.0], np.random.default_rng()
            ),
            "one finite score per candidate",
        ),
    ],
)
def test_bad_input_is_named(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call()
