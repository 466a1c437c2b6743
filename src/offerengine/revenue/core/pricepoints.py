"""Learned prices: a price-point policy per route and cabin, and the bandit that chooses among its
points to earn the most per offer shown.

A **price-point policy** is a set of allowed multipliers of the rules' price (1 is the rules' own
price and is always allowed), and the largest step the multiplier may take between two
successive choices of a market, so that a fare does not leap. A point is allowed only where the
price it gives stays within the product's floor and ceiling (:func:`allowed`).

The choice is a contextual bandit (:class:`offerengine.learning.bandit.LinearBandit`, one arm per
point, epsilon-greedy so every point shown has an exact propensity): the context is where the
departure is in its booking window (a one-hot of the booking period) and how full its cabin is;
the reward of an offer shown is what it earned as a multiple of the rules' price (the point's
multiplier if it was ordered, 0 if not), so one policy learns across flights of any price.
**Cold start serves the rules' price**: the rules' point carries a small prior lead, and the
bandit explores only in proportion to what it has learnt (``epsilon`` × its confidence).

In **shadow mode** the rules' price is served and the policy's choice only logged; what the
learned policy would earn is then estimated off-policy, from logs served by an exploring policy,
with the existing estimators (:mod:`offerengine.learning.ope`, self-normalised IPS with an
interval), against the rules' price on the same logs (:func:`evaluate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from offerengine.learning import bandit, ope

RULES = Decimal("1")
PRIOR_LEAD = 1e-3  # the rules' point's prior lead: what cold start serves


@dataclass(frozen=True, slots=True)
class PricePoints:
    """Allowed multipliers of the rules' price (1 among them), the largest step between two
    successive choices, and how the bandit explores."""

    multipliers: tuple[Decimal, ...]
    max_step: Decimal
    epsilon: float = 0.1

    def __post_init__(self) -> None:
        if not self.multipliers or any(m <= 0 for m in self.multipliers):
            raise ValueError("multipliers must be given, each above 0")
        if len(set(self.multipliers)) != len(self.multipliers):
            raise ValueError("multipliers must be distinct")
        if RULES not in self.multipliers:
            raise ValueError("multipliers must include 1, the rules' price")
        if self.max_step <= 0:
            raise ValueError("max_step must be above 0")
        if not 0 <= self.epsilon <= 1:
            raise ValueError("epsilon must be between 0 and 1")

    @property
    def keys(self) -> tuple[str, ...]:
        """The bandit's arm per multiplier, in ascending order."""
        return tuple(key(m) for m in sorted(self.multipliers))


def key(multiplier: Decimal) -> str:
    """A multiplier's arm name: its normalised decimal text (1.10 and 1.1 are one arm)."""
    return format(multiplier.normalize(), "f")


def allowed(
    points: PricePoints,
    *,
    price: Decimal,
    current: Decimal | None = None,
    floor: Decimal | None = None,
    ceiling: Decimal | None = None,
) -> tuple[Decimal, ...]:
    """The points the policy may choose for a rules' ``price``: within ``max_step`` of the
    ``current`` multiplier (none yet: any) and with ``price`` × point within the floor and
    ceiling; the rules' point when none is (the rules' price is clamped already)."""
    found = tuple(
        m
        for m in sorted(points.multipliers)
        if (current is None or abs(m - current) <= points.max_step)
        and (floor is None or price * m >= floor)
        and (ceiling is None or price * m <= ceiling)
    )
    return found or (RULES,)


def context(period: int, periods: int, load_factor: float) -> list[float]:
    """The bandit's context: the booking period (one-hot) and the cabin's load factor."""
    if not 0 <= period < periods:
        raise ValueError("the period must be one of the booking periods")
    x = [0.0] * (periods + 1)
    x[period] = 1.0
    x[periods] = min(max(load_factor, 0.0), 1.0)
    return x


def new_bandit(points: PricePoints, periods: int) -> bandit.LinearBandit:
    """A fresh learner for a policy over ``periods`` booking periods."""
    return bandit.LinearBandit(
        periods + 1, bandit.Settings(method="epsilon_greedy", epsilon=points.epsilon, warmup=0.5)
    )


@dataclass(frozen=True, slots=True)
class PriceChoice:
    """The point chosen, with its propensity and every allowed point's probability."""

    multiplier: Decimal
    propensity: float
    chances: dict[str, float]  # arm → π(arm | x) over the allowed points


def choose(
    learner: bandit.LinearBandit,
    candidates: Sequence[Decimal],
    x: Sequence[float],
    rng: np.random.Generator,
) -> PriceChoice:
    """The bandit's point among ``candidates`` (see :func:`allowed`) for context ``x``."""
    keys = [key(m) for m in candidates]
    prior = [PRIOR_LEAD if m == RULES else 0.0 for m in candidates]
    picked = learner.choose(keys, x, prior, rng)
    chances = dict(zip(keys, picked.chances, strict=True))
    return PriceChoice(candidates[picked.chosen], picked.propensity, chances)


def learn(
    learner: bandit.LinearBandit, multiplier: Decimal, x: Sequence[float], reward: float
) -> None:
    """Learn that ``multiplier`` earned ``reward`` per offer shown (a multiple of the rules'
    price) in context ``x``."""
    learner.update(key(multiplier), x, reward)


@dataclass(frozen=True, slots=True)
class LoggedPrice:
    """One logged showing: the context, the allowed points, the point served with its
    propensity, and what it earned per offer shown (a multiple of the rules' price)."""

    x: tuple[float, ...]
    candidates: tuple[Decimal, ...]
    served: Decimal
    propensity: float
    reward: float


@dataclass(frozen=True, slots=True)
class PriceReport:
    """Off-policy estimates, per offer shown, of the learned policy and of the rules' price."""

    learned: ope.Estimate
    rules: ope.Estimate
    logged: int

    @property
    def lift(self) -> float | None:
        """The learned policy's estimate over the rules', as a ratio less 1."""
        return self.learned.value / self.rules.value - 1 if self.rules.value > 0 else None


def evaluate(
    logs: Sequence[LoggedPrice], learner: bandit.LinearBandit, *, seed: int = 0
) -> PriceReport:
    """Estimate with self-normalised IPS (normal interval) what the learner, choosing greedily,
    and the rules' price would each earn per offer shown, from logs an exploring policy
    served. Needs logs where the rules' point was served and some the learner would serve."""
    if not logs:
        raise ValueError("no logged showings to evaluate")
    rng = np.random.default_rng(seed)
    greedy = bandit.LinearBandit(
        learner.dimension,
        bandit.Settings(method="epsilon_greedy", epsilon=0.0),
        learner.with_settings(learner.settings).arms,
    )
    rewards = np.array([row.reward for row in logs])
    behaviour = np.array([row.propensity for row in logs])
    learned = np.zeros(len(logs))
    rules = np.zeros(len(logs))
    for i, row in enumerate(logs):
        picked = choose(greedy, row.candidates, row.x, rng)
        learned[i] = picked.chances.get(key(row.served), 0.0)
        rules[i] = 1.0 if row.served == RULES else 0.0
    return PriceReport(
        learned=ope.snips(rewards, behaviour, learned),
        rules=ope.snips(rewards, behaviour, rules),
        logged=len(logs),
    )
