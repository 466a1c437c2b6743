"""Promotion targeting by uplift (seed 004): offer a promotion where it changes behaviour, within
a budget and the stock there is.

- :class:`TLearner` — the two-model uplift estimator: one classifier learns P(buy | promotion)
  from the customers who had it, another P(buy | none) from those who did not (scikit-learn's
  gradient boosting by default); the uplift is the difference, and the incremental margin follows
  from the basket's margin and the promotion's cost.
- :func:`qini_curve`, :func:`qini_coefficient` — how well a ranking of customers finds the uplift,
  measured on randomised outcomes (Radcliffe 2007): the incremental buyers among the top k,
  against a random ranking's straight line.
- :func:`select` — who gets which promotion: the highest expected incremental margin first, only
  where it is positive, within the budget, a limit per customer, and each product's stock, never
  on a product that is low in stock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # scikit-learn is imported when a model is made: a second of every start
    from sklearn.base import ClassifierMixin

Floats = npt.NDArray[np.float64]
Array = npt.ArrayLike


def _default_model() -> ClassifierMixin:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.08, max_leaf_nodes=15, min_samples_leaf=40, random_state=0
    )


@dataclass
class TLearner:
    """Two classifiers, one per arm of a randomised past promotion."""

    make_model: Callable[[], ClassifierMixin] = _default_model
    treated_model: Any = field(default=None, init=False)
    control_model: Any = field(default=None, init=False)

    def fit(self, features: Array, treated: Array, bought: Array) -> TLearner:
        x = np.asarray(features, dtype=np.float64)
        t = np.asarray(treated, dtype=bool)
        y = np.asarray(bought, dtype=bool)
        if x.ndim != 2 or x.shape[0] != t.size or t.size != y.size:
            raise ValueError("features must be (n, k), treated and bought n values each")
        for name, arm in (("treated", t), ("control", ~t)):
            if len(np.unique(y[arm])) < 2:
                raise ValueError(f"the {name} group needs both buyers and non-buyers to learn from")
        from sklearn.base import clone

        self.treated_model = clone(self.make_model()).fit(x[t], y[t])
        self.control_model = clone(self.make_model()).fit(x[~t], y[~t])
        return self

    def _fitted(self) -> tuple[Any, Any]:
        if self.treated_model is None or self.control_model is None:
            raise ValueError("fit the model first")
        return self.treated_model, self.control_model

    def probabilities(self, features: Array) -> tuple[Floats, Floats]:
        """P(buy | promotion) and P(buy | none), per customer."""
        treated, control = self._fitted()
        x = np.asarray(features, dtype=np.float64)
        return (
            treated.predict_proba(x)[:, 1].astype(np.float64),
            control.predict_proba(x)[:, 1].astype(np.float64),
        )

    def uplift(self, features: Array) -> Floats:
        """The incremental probability of buying that the promotion causes."""
        with_promotion, without = self.probabilities(features)
        return with_promotion - without

    def incremental_margin(self, features: Array, margin: Array, cost: float | Array) -> Floats:
        """Expected margin with the promotion minus without: treated buyers cost ``cost`` (the
        discount or perk), and only the extra buyers bring new ``margin``."""
        with_promotion, without = self.probabilities(features)
        m = np.asarray(margin, dtype=np.float64)
        c = np.asarray(cost, dtype=np.float64)
        return with_promotion * (m - c) - without * m


def qini_curve(score: Array, treated: Array, outcome: Array) -> tuple[Floats, Floats]:
    """The Qini curve of a ranking: for the top k customers by ``score`` (k = 0 … n), the
    incremental outcome Y_t(k) − Y_c(k)·N_t(k)/N_c(k). Returns (k, gain)."""
    s = np.asarray(score, dtype=np.float64)
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(outcome, dtype=np.float64)
    if not (s.size == t.size == y.size) or s.size == 0:
        raise ValueError("score, treated and outcome must be the same non-empty length")
    order = np.argsort(-s, kind="stable")
    t, y = t[order], y[order]
    n_t = np.cumsum(t)
    n_c = np.cumsum(~t)
    y_t = np.cumsum(y * t)
    y_c = np.cumsum(y * ~t)
    gain = y_t - np.divide(y_c * n_t, n_c, out=np.zeros_like(y_c), where=n_c > 0)
    k = np.arange(1, s.size + 1, dtype=np.float64)
    return np.concatenate([[0.0], k]), np.concatenate([[0.0], gain])


def qini_coefficient(score: Array, treated: Array, outcome: Array) -> float:
    """Area between the Qini curve and the random ranking's line, per customer: 0 for a random
    ranking, positive when the ranking finds the customers the promotion moves."""
    k, gain = qini_curve(score, treated, outcome)
    n = k[-1]
    random_line = gain[-1] * k / n
    return float(np.trapezoid(gain - random_line, k) / n)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One possible grant: a promotion for a customer, with what it is expected to bring."""

    customer: str
    promotion: str
    product: str
    incremental_margin: float  # expected, from the uplift model
    cost: float  # what it takes from the budget (the expected discount paid)


@dataclass(frozen=True, slots=True)
class Grant:
    customer: str
    promotion: str
    product: str
    incremental_margin: float
    cost: float


@dataclass(frozen=True, slots=True)
class Selection:
    grants: tuple[Grant, ...]
    spent: float
    expected_incremental_margin: float
    skipped: Mapping[str, int]  # why candidates were left out: counts by reason


def select(
    candidates: Sequence[Candidate],
    *,
    budget: float,
    per_customer: int = 1,
    stock: Mapping[str, int] | None = None,
    low_stock: frozenset[str] = frozenset(),
    budgets: Mapping[str, float] | None = None,
) -> Selection:
    """Grants that maximise the expected incremental margin within ``budget``: candidates by
    margin per unit of cost, highest first (greedy, near-optimal when each grant is small against
    the budget); never one whose expected margin is not positive, never on a product in
    ``low_stock``, at most ``stock[product]`` grants per product and ``per_customer`` per
    customer; and, with ``budgets``, within each promotion's own budget too."""
    if budget < 0:
        raise ValueError("budget must not be negative")
    if per_customer < 1:
        raise ValueError("per_customer must be at least 1")
    left = dict(stock or {})
    given: dict[str, int] = {}
    skipped: dict[str, int] = {}
    grants: list[Grant] = []
    spent = 0.0
    gained = 0.0
    by_promotion: dict[str, float] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    def value(c: Candidate) -> float:
        return c.incremental_margin / c.cost if c.cost > 0 else float("inf")

    for c in sorted(candidates, key=lambda c: (-value(c), -c.incremental_margin, c.customer)):
        if c.incremental_margin <= 0:
            skip("no expected gain")
        elif c.product in low_stock:
            skip("product low in stock")
        elif stock is not None and left.get(c.product, 0) <= 0:
            skip("product's promotion stock used")
        elif given.get(c.customer, 0) >= per_customer:
            skip("customer limit")
        elif spent + c.cost > budget:
            skip("over budget")
        elif budgets is not None and by_promotion.get(c.promotion, 0.0) + c.cost > budgets.get(
            c.promotion, 0.0
        ):
            skip("over the promotion's budget")
        else:
            by_promotion[c.promotion] = by_promotion.get(c.promotion, 0.0) + c.cost
            grants.append(Grant(c.customer, c.promotion, c.product, c.incremental_margin, c.cost))
            spent += c.cost
            gained += c.incremental_margin
            given[c.customer] = given.get(c.customer, 0) + 1
            if stock is not None:
                left[c.product] -= 1
    return Selection(tuple(grants), spent, gained, skipped)
