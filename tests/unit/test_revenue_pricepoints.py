"""Learned prices: the points a policy may choose hold the floor, the ceiling and the maximum step;
cold start serves the rules' price; the bandit learns the point that earns most per offer shown;
the off-policy estimate ranks the learned policy above the rules' price when it is better."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from offerengine.learning import bandit
from offerengine.revenue.core import pricepoints as pp

POINTS = pp.PricePoints(
    tuple(Decimal(m) for m in ("0.8", "0.9", "1", "1.1", "1.2", "1.3")), Decimal("0.1")
)


@given(
    price=st.decimals(min_value=Decimal("1"), max_value=Decimal("5000"), places=2),
    current=st.sampled_from([None, *POINTS.multipliers]),
    floor=st.none() | st.decimals(min_value=Decimal("0"), max_value=Decimal("4000"), places=2),
    ceiling=st.none() | st.decimals(min_value=Decimal("1"), max_value=Decimal("8000"), places=2),
)
def test_allowed_points_hold_the_step_the_floor_and_the_ceiling(
    price: Decimal,
    current: Decimal | None,
    floor: Decimal | None,
    ceiling: Decimal | None,
) -> None:
    found = pp.allowed(POINTS, price=price, current=current, floor=floor, ceiling=ceiling)
    assert found
    if found == (pp.RULES,):
        return  # nothing else fits: the rules' price, which the rules clamp themselves
    for m in found:
        assert m in POINTS.multipliers
        assert current is None or abs(m - current) <= POINTS.max_step
        assert floor is None or price * m >= floor
        assert ceiling is None or price * m <= ceiling


def test_the_ceiling_and_the_step_cut_the_points() -> None:
    assert pp.allowed(POINTS, price=Decimal("100"), current=Decimal("1")) == tuple(
        Decimal(m) for m in ("0.9", "1", "1.1")
    )
    assert pp.allowed(POINTS, price=Decimal("100"), ceiling=Decimal("105")) == tuple(
        Decimal(m) for m in ("0.8", "0.9", "1")
    )
    assert pp.allowed(POINTS, price=Decimal("100"), floor=Decimal("500")) == (pp.RULES,)


def test_a_policy_is_checked() -> None:
    with pytest.raises(ValueError, match="include 1"):
        pp.PricePoints((Decimal("1.1"),), Decimal("0.1"))
    with pytest.raises(ValueError, match="max_step"):
        pp.PricePoints((Decimal("1"),), Decimal("0"))
    with pytest.raises(ValueError, match="distinct"):
        pp.PricePoints((Decimal("1"), Decimal("1.0")), Decimal("0.1"))
    assert pp.key(Decimal("1.10")) == pp.key(Decimal("1.1")) == "1.1"


def test_cold_start_serves_the_rules_price() -> None:
    learner = pp.new_bandit(POINTS, 3)
    rng = np.random.default_rng(1)
    x = pp.context(0, 3, 0.0)
    picks = {pp.choose(learner, POINTS.multipliers, x, rng).multiplier for _ in range(50)}
    assert picks == {pp.RULES}


def _shopper_world(
    seed: int,
) -> tuple[pp.PricePoints, list[pp.LoggedPrice], bandit.LinearBandit]:
    """Shoppers who buy while the point is below a willingness to pay (log-normal, median 1.5
    of the rules' price): the revenue per offer shown, m × P(wtp ≥ m), is 1.00 at the rules'
    price, 1.08 at 1.1, 1.12 at 1.2 (the best) and 1.08 at 1.3."""
    points = pp.PricePoints(
        tuple(Decimal(m) for m in ("0.9", "1", "1.1", "1.2", "1.3")), Decimal("1"), epsilon=0.3
    )
    learner = pp.new_bandit(points, 1)
    rng = np.random.default_rng(seed)
    logs: list[pp.LoggedPrice] = []
    x = pp.context(0, 1, 0.5)
    for _ in range(3_000):
        choice = pp.choose(learner, points.multipliers, x, rng)
        m = float(choice.multiplier)
        reward = m if rng.lognormal(np.log(1.5), 0.15) >= m else 0.0
        pp.learn(learner, choice.multiplier, x, reward)
        logs.append(
            pp.LoggedPrice(
                tuple(x), points.multipliers, choice.multiplier, choice.propensity, reward
            )
        )
    return points, logs, learner


def test_the_bandit_learns_the_point_that_earns_most_per_offer_shown() -> None:
    points, logs, learner = _shopper_world(7)
    greedy = pp.choose(learner, points.multipliers, logs[0].x, np.random.default_rng(0))
    assert greedy.multiplier in (Decimal("1.1"), Decimal("1.2"))
    report = pp.evaluate(logs, learner)
    assert report.logged == 3_000
    # The learned policy beats the rules' price, intervals apart.
    assert report.learned.low > report.rules.high
    assert report.lift is not None
    assert report.lift > 0.05
    assert report.learned.method == report.rules.method == "snips"


def test_evaluating_no_logs_is_refused() -> None:
    with pytest.raises(ValueError, match="no logged"):
        pp.evaluate([], pp.new_bandit(POINTS, 1))
