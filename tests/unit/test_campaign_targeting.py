"""Issue 33's correctness: on the synthetic population with a known effect by segment, targeting
within a budget by the uplift model retrained from a campaign's own outcomes earns more
incremental revenue than random targeting and than targeting by purchase probability alone."""

from __future__ import annotations

import numpy as np
import pytest

from offerengine.campaigns import core
from offerengine.learning import uplift

SEEDS = range(5)


def _features(p: core.Population, seed: int) -> np.ndarray:
    """What the model sees: each segment's behaviour, with noise (never the segment itself)."""
    rng = np.random.default_rng(seed + 1000)
    centre = np.array([[3.0, 0.35, 40.0], [4.0, 0.2, 60.0], [1.5, 0.05, 40.0], [6.0, 0.15, 150.0]])
    return centre[p.segment] * rng.lognormal(0.0, 0.25, (p.segment.size, 3))


def compare(seed: int, n: int = 4000, budget_share: float = 0.25) -> dict[str, float]:
    """Retrain on one campaign's outcomes, then target a new population: each way's expected
    incremental revenue from granting the budget's ``budget_share`` of it."""
    past = core.population(n, seed)
    model = uplift.TLearner().fit(_features(past, seed), past.treated, past.converted > 0)
    new = core.population(n, seed + 10_000)
    x = _features(new, seed + 10_000)
    k = int(budget_share * n)
    with_it, without = model.probabilities(x)
    rng = np.random.default_rng(seed)
    return {
        "uplift": core.incremental_revenue(new.segment, core.top(with_it - without, k)),
        "probability": core.incremental_revenue(new.segment, core.top(without, k)),
        "random": core.incremental_revenue(new.segment, core.top(rng.random(n), k)),
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_retrained_uplift_beats_random_and_probability_targeting(seed: int) -> None:
    found = compare(seed)
    assert found["uplift"] > found["random"]
    assert found["uplift"] > found["probability"]


def test_promotion_needs_a_better_qini() -> None:
    assert core.promotes(0.02, None)
    assert core.promotes(0.03, 0.02)
    assert not core.promotes(0.02, 0.02)
    assert not core.promotes(0.01, 0.02)


def test_split_holds_out_a_third_and_is_seeded() -> None:
    held, kept = core.split(30, 4)
    assert held.size == 10
    assert sorted([*held, *kept]) == list(range(30))
    assert (core.split(30, 4)[0] == held).all()
