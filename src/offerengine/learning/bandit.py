"""Contextual bandits for personalised ranking: which offer to show this profile in this context,
learnt online from the rewards that follow. Pure numpy; the state is plain data.

One linear model per arm over a shared context vector (disjoint linear bandits, Li et al. 2010):
the arm's ridge regression ``A = λI + Σ x xᵀ``, ``b = Σ r·x``, estimate ``θ = A⁻¹b``, kept with
``A⁻¹`` updated by Sherman–Morrison so that an update costs O(d²). Three ways to choose:

- ``linucb``: the upper confidence bound ``x·θ + alpha·√(xᵀA⁻¹x)``; deterministic;
- ``thompson``: a draw of θ from N(θ, v²·A⁻¹) per arm, the best draw wins; its propensity (the
  probability of the arm it chose) is estimated by repeating the draw;
- ``epsilon_greedy``: the best estimate, or with probability ε any arm; exact propensities.

**Cold start is never random serving.** Each arm's learnt score is blended with the activity's
own ranking (priority or formula, given as ``prior``) by its posterior confidence in this
context: weight 1/(1 + ``warmup``·xᵀA⁻¹x), about n/(n + ``warmup``) after n rewards in contexts
like this one, so an offer well known elsewhere but new here still leans on the prior. With no feedback the policy ranks exactly as the prior does; the
learnt score takes over as rewards come in. Every choice says its propensity, so that any other
policy can be evaluated on its logs (``offerengine.learning.ope``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Method = Literal["linucb", "thompson", "epsilon_greedy"]
Floats = npt.NDArray[np.float64]
METHODS: tuple[Method, ...] = ("linucb", "thompson", "epsilon_greedy")


@dataclass(frozen=True, slots=True)
class Settings:
    """How a policy explores; changing them starts a new model version, never a reset."""

    method: Method = "thompson"
    alpha: float = 1.0  # linucb: the width of the confidence bound
    epsilon: float = 0.05  # epsilon_greedy: the share of random choices
    variance: float = 0.25  # thompson: v², the spread of the draws
    ridge: float = 1.0  # λ: the prior's weight on θ = 0
    warmup: float = 20.0  # rewards an arm needs before its learnt score counts half
    draws: int = 200  # thompson: draws that estimate a propensity

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}")
        for name in ("alpha", "variance", "ridge"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if not 0 <= self.epsilon <= 1:
            raise ValueError("epsilon must be between 0 and 1")
        if self.warmup < 0:
            raise ValueError("warmup must not be negative")
        if self.draws < 1:
            raise ValueError("draws must be at least 1")


@dataclass
class Arm:
    """One arm's ridge regression."""

    a_inv: Floats
    b: Floats
    n: int = 0

    @classmethod
    def new(cls, dimension: int, ridge: float) -> Arm:
        return cls(np.eye(dimension) / ridge, np.zeros(dimension))

    @property
    def theta(self) -> Floats:
        return self.a_inv @ self.b

    def update(self, x: Floats, reward: float) -> None:
        ax = self.a_inv @ x
        self.a_inv -= np.outer(ax, ax) / (1.0 + float(x @ ax))
        self.b += reward * x
        self.n += 1


@dataclass(frozen=True, slots=True)
class Choice:
    """The ranking of the candidates, and what the logs need: the chosen arm's propensity."""

    order: tuple[int, ...]  # candidate indexes, best first
    propensity: float  # probability that this policy puts order[0] first in this context
    scores: tuple[float, ...]  # per candidate, as ranked (blended learnt score and prior)
    confidence: tuple[float, ...]  # per candidate: the learnt score's weight in the blend
    # π(a | x) per candidate in the given order: what :meth:`LinearBandit.probabilities` says,
    # from the same draws for Thompson sampling.
    chances: tuple[float, ...] = ()

    @property
    def chosen(self) -> int:
        return self.order[0]


@dataclass
class LinearBandit:
    dimension: int
    settings: Settings = field(default_factory=Settings)
    arms: dict[str, Arm] = field(default_factory=dict)
    _cache: dict[tuple[str, ...], tuple[Floats, Floats, Floats]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.dimension < 1:
            raise ValueError("dimension must be at least 1")

    def _arm(self, key: str) -> Arm:
        found = self.arms.get(key)
        if found is None:
            found = self.arms[key] = Arm.new(self.dimension, self.settings.ridge)
        return found

    def _context(self, x: npt.ArrayLike) -> Floats:
        found = np.asarray(x, dtype=np.float64)
        if found.shape != (self.dimension,) or not np.all(np.isfinite(found)):
            raise ValueError(f"the context must be {self.dimension} finite numbers")
        return found

    def update(self, key: str, x: npt.ArrayLike, reward: float) -> None:
        """Learn that showing ``key`` in context ``x`` earned ``reward``."""
        if not np.isfinite(reward):
            raise ValueError("the reward must be a finite number")
        self._arm(key).update(self._context(x), float(reward))
        self._cache.clear()

    def _stacks(self, keys: Sequence[str]) -> tuple[Floats, Floats, Floats]:
        """The candidates' A⁻¹ (k, d, d), θ (k, d) and counts (k,), stacked once per candidate
        set and kept until the next update: serving reads them without a Python loop per arm."""
        key = tuple(keys)
        found = self._cache.get(key)
        if found is None:
            unseen = np.eye(self.dimension) / self.settings.ridge
            arms = [self.arms.get(k) for k in keys]
            a_inv = np.stack([unseen if a is None else a.a_inv for a in arms])
            theta = np.stack(
                [np.zeros(self.dimension) if a is None else a.a_inv @ a.b for a in arms]
            )
            counts = np.array([0 if a is None else a.n for a in arms], dtype=np.float64)
            if len(self._cache) >= 256:
                self._cache.clear()
            found = self._cache[key] = (a_inv, theta, counts)
        return found

    def _posterior(self, keys: Sequence[str], x: Floats) -> tuple[Floats, Floats, Floats]:
        """Per candidate in context x: the learnt expected reward x·θ, its spread √(xᵀA⁻¹x),
        and how much it counts — the posterior's confidence here, 1 / (1 + warmup · xᵀA⁻¹x),
        about n / (n + warmup) after n rewards in contexts like x, and 0 for an arm that has
        learnt nothing."""
        a_inv, theta, counts = self._stacks(keys)
        spread = np.maximum((a_inv @ x) @ x, 0.0)
        seen = counts > 0
        if self.settings.warmup == 0:
            weights = seen.astype(np.float64)
        else:
            weights = np.where(seen, 1.0 / (1.0 + self.settings.warmup * spread), 0.0)
        means: Floats = theta @ x
        return means, np.sqrt(spread), weights

    def _blend(self, learnt: Floats, prior: Floats, weights: Floats) -> Floats:
        return weights * learnt + (1 - weights) * prior

    def choose(
        self,
        keys: Sequence[str],
        x: npt.ArrayLike,
        prior: npt.ArrayLike,
        rng: np.random.Generator,
    ) -> Choice:
        """Rank the candidate arms ``keys`` for context ``x``. ``prior`` is the activity's own
        score per candidate (priority or formula), on the scale of the rewards."""
        context, base = self._inputs(keys, x, prior)
        means, widths, weights = self._posterior(keys, context)
        s = self.settings
        k = len(keys)
        if s.method == "linucb":
            scores = self._blend(means + s.alpha * widths, base, weights)
            order = _ranked(scores)
            sure = [0.0] * k
            sure[order[0]] = 1.0
            return Choice(
                order, 1.0, tuple(scores[list(order)]), tuple(weights[list(order)]), tuple(sure)
            )
        if s.method == "epsilon_greedy":
            scores = self._blend(means, base, weights)
            ranking = list(_ranked(scores))
            greedy = ranking[0]
            # Explore in proportion to what has been learnt: none at all before any feedback.
            explore = s.epsilon * float(weights.max()) if k > 1 else 0.0
            if k > 1 and rng.random() < explore:
                pick = int(rng.integers(k))
                ranking.remove(pick)
                ranking.insert(0, pick)
            chances = [explore / k + (1 - explore) * (i == greedy) for i in range(k)]
            return Choice(
                tuple(ranking),
                chances[ranking[0]],
                tuple(scores[ranking]),
                tuple(weights[ranking]),
                tuple(chances),
            )
        # One draw chooses; ``draws`` more estimate how likely its choice was.
        drawn = self._draw(means, widths, weights, base, rng, s.draws + 1)
        sampled = drawn[0]
        order = _ranked(sampled)
        wins = np.bincount(drawn[1:].argmax(axis=1), minlength=k) / s.draws
        return Choice(
            order,
            max(float(wins[order[0]]), 1.0 / s.draws),
            tuple(sampled[list(order)]),
            tuple(weights[list(order)]),
            tuple(float(w) for w in wins),
        )

    def _inputs(
        self, keys: Sequence[str], x: npt.ArrayLike, prior: npt.ArrayLike
    ) -> tuple[Floats, Floats]:
        if not keys:
            raise ValueError("there must be at least one candidate")
        context = self._context(x)
        base = np.asarray(prior, dtype=np.float64)
        if base.shape != (len(keys),) or not np.all(np.isfinite(base)):
            raise ValueError("prior must be one finite score per candidate")
        return context, base

    def probabilities(
        self,
        keys: Sequence[str],
        x: npt.ArrayLike,
        prior: npt.ArrayLike,
        rng: np.random.Generator,
    ) -> Floats:
        """π(a | x): the probability that :meth:`choose` puts each candidate first — exact for
        linucb and epsilon_greedy, the share of ``draws`` Thompson draws it wins otherwise."""
        context, base = self._inputs(keys, x, prior)
        means, widths, weights = self._posterior(keys, context)
        s = self.settings
        k = len(keys)
        found = np.zeros(k)
        if s.method == "thompson":
            wins = self._draw(means, widths, weights, base, rng, s.draws).argmax(axis=1)
            return np.bincount(wins, minlength=k) / s.draws
        if s.method == "linucb":
            found[_ranked(self._blend(means + s.alpha * widths, base, weights))[0]] = 1.0
            return found
        explore = s.epsilon * float(weights.max()) if k > 1 else 0.0
        found += explore / k
        found[_ranked(self._blend(means, base, weights))[0]] += 1 - explore
        return found

    def estimate(self, keys: Sequence[str], x: npt.ArrayLike) -> Floats:
        """The learnt expected reward of each candidate in context ``x`` (0 for an unseen
        one): the reward model of the direct method and doubly robust estimates."""
        return self._posterior(keys, self._context(x))[0]

    def _draw(
        self,
        means: Floats,
        widths: Floats,
        weights: Floats,
        prior: Floats,
        rng: np.random.Generator,
        times: int,
    ) -> Floats:
        """``times`` Thompson draws of every candidate's blended score: (times, len(keys))."""
        # x·θ with θ ~ N(θ̂, v²A⁻¹) is N(x·θ̂, v²·xᵀA⁻¹x): draw the score directly.
        noise = rng.standard_normal((times, len(means)))
        learnt = means + np.sqrt(self.settings.variance) * widths * noise
        blended: Floats = weights * learnt + (1 - weights) * prior
        return blended

    def to_dict(self) -> dict[str, Any]:
        """The state as plain data, to store as a model version."""
        return {
            "dimension": self.dimension,
            "settings": {
                name: getattr(self.settings, name)
                for name in ("method", "alpha", "epsilon", "variance", "ridge", "warmup", "draws")
            },
            "arms": {
                key: {"a_inv": arm.a_inv.tolist(), "b": arm.b.tolist(), "n": arm.n}
                for key, arm in self.arms.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinearBandit:
        found = cls(int(data["dimension"]), Settings(**data["settings"]))
        for key, arm in data["arms"].items():
            found.arms[key] = Arm(
                np.array(arm["a_inv"], dtype=np.float64),
                np.array(arm["b"], dtype=np.float64),
                int(arm["n"]),
            )
        return found

    def with_settings(self, settings: Settings) -> LinearBandit:
        """The same learnt state under new exploration settings (a new model version): what
        was learnt is kept. A new ridge applies to arms seen from now on."""
        return LinearBandit(
            self.dimension,
            settings,
            {k: Arm(a.a_inv.copy(), a.b.copy(), a.n) for k, a in self.arms.items()},
        )


def _ranked(scores: Floats) -> tuple[int, ...]:
    # Best first; ties keep the candidates' order (the activity's own order).
    return tuple(int(i) for i in np.argsort(-scores, kind="stable"))
