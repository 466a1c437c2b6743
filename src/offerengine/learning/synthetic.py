"""Synthetic shoppers with a known truth, for testing promotion targeting (seed 004).

Each customer is of a hidden type whose response to a promotion is known — the four classic
uplift segments: *persuadables* buy because of it, *sure things* buy anyway, *lost causes* do
not buy either way, *sleeping dogs* are put off by it. Their sessions, views, carts and past
spend depend on the type (so behaviour carries a signal, with noise), a past promotion was given at
random to half of them, and whether each bought is drawn from the type's probabilities. The true
uplift of every customer is kept, so a targeting policy's real incremental margin can be computed
exactly on customers it never saw.

Nothing here is real data: the probabilities are chosen to make the four segments distinct, not
taken from any shop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

TYPES = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")
# Per type: how common, P(buy | no promotion), P(buy | promotion); and how they behave:
# sessions, views per session, chance a view is carted, chance they bought before, the scale of
# their past spend, days since their last visit. Persuadables browse and abandon carts; sure
# things buy often; lost causes barely look; sleeping dogs are loyal, frequent big spenders.
_SHARE = np.array([0.25, 0.2, 0.4, 0.15])
_BASE = np.array([0.05, 0.6, 0.02, 0.35])
_TREATED = np.array([0.35, 0.62, 0.03, 0.2])
_SESSIONS = np.array([3.0, 4.0, 1.5, 6.0])
_VIEWS = np.array([4.0, 3.0, 2.0, 3.0])
_CART = np.array([0.35, 0.2, 0.05, 0.15])
_BOUGHT_BEFORE = np.array([0.05, 0.6, 0.02, 0.7])
_SPEND = np.array([40.0, 60.0, 40.0, 150.0])
_DAYS = np.array([10.0, 12.0, 40.0, 5.0])
FEATURES = (
    "sessions",
    "views",
    "carts",
    "cart_rate",
    "past_spend",
    "days_since_visit",
    "viewed_not_bought",
    "noise",
)


@dataclass(frozen=True, slots=True)
class Shoppers:
    """One row per customer."""

    features: Floats  # (n, len(FEATURES))
    customer_type: Ints  # index into TYPES (hidden from any model)
    treated: Bools  # got the past promotion (at random)
    bought: Bools
    product: Ints  # the product each customer looked at most
    basket_value: Floats  # what a purchase is worth (before the promotion's discount)
    true_base: Floats  # P(buy | no promotion)
    true_treated: Floats  # P(buy | promotion)

    @property
    def n(self) -> int:
        return int(self.features.shape[0])

    @property
    def true_uplift(self) -> Floats:
        """Incremental probability of buying that the promotion causes, per customer."""
        return self.true_treated - self.true_base

    def true_incremental_margin(self, margin_rate: float, discount: float) -> Floats:
        """What giving the promotion changes in expected margin, per customer: treated buyers
        pay the discount, and only the incremental ones are new margin."""
        margin = self.basket_value * margin_rate
        return self.true_treated * (margin - discount) - self.true_base * margin

    def viewed_not_bought(self) -> Bools:
        """Seed 004's rule: the customer viewed products and did not buy."""
        return self.features[:, FEATURES.index("viewed_not_bought")] > 0


def shoppers(n: int, seed: int, *, products: int = 5) -> Shoppers:
    """``n`` customers drawn with ``seed`` (the same seed gives the same customers)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    rng = np.random.default_rng(seed)
    kind = rng.choice(len(TYPES), size=n, p=_SHARE)
    sessions = rng.poisson(_SESSIONS[kind]) + 1
    views = rng.poisson(_VIEWS[kind] * sessions)
    carts = rng.binomial(views, _CART[kind])
    bought_before = rng.random(n) < _BOUGHT_BEFORE[kind]
    past_spend = np.where(bought_before, rng.gamma(2.0, _SPEND[kind]), 0.0)
    days = rng.exponential(_DAYS[kind])
    viewed_not_bought = ((views > 0) & ~bought_before).astype(float)
    features = np.column_stack(
        [
            sessions,
            views,
            carts,
            carts / np.maximum(views, 1),
            past_spend,
            days,
            viewed_not_bought,
            rng.normal(size=n),
        ]
    ).astype(np.float64)
    treated = rng.random(n) < 0.5
    base = _BASE[kind].astype(np.float64)
    with_promotion = _TREATED[kind].astype(np.float64)
    bought = rng.random(n) < np.where(treated, with_promotion, base)
    return Shoppers(
        features=features,
        customer_type=kind.astype(np.int64),
        treated=treated,
        bought=bought,
        product=rng.integers(0, products, n).astype(np.int64),
        basket_value=rng.gamma(4.0, 25.0, n),
        true_base=base,
        true_treated=with_promotion,
    )
