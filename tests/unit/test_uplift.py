"""Promotion targeting on synthetic shoppers whose true response is known: the uplift model's
ranking beats random targeting and seed 004's rule on held-out customers, and the budgeted
selection's real incremental margin beats giving the promotion to everyone who viewed and did not
buy."""

from __future__ import annotations

import numpy as np
import pytest

from offerengine.learning import synthetic, uplift

MARGIN_RATE = 0.3
DISCOUNT = 15.0


@pytest.fixture(scope="module")
def trained() -> tuple[uplift.TLearner, synthetic.Shoppers]:
    train = synthetic.shoppers(20_000, seed=1)
    model = uplift.TLearner().fit(train.features, train.treated, train.bought)
    return model, synthetic.shoppers(10_000, seed=2)


def test_the_shoppers_are_repeatable_and_their_truth_is_kept() -> None:
    a = synthetic.shoppers(1_000, seed=5)
    b = synthetic.shoppers(1_000, seed=5)
    assert np.array_equal(a.features, b.features)
    assert np.array_equal(a.bought, b.bought)
    assert a.n == 1_000
    persuadable = a.customer_type == synthetic.TYPES.index("persuadable")
    sleeping = a.customer_type == synthetic.TYPES.index("sleeping_dog")
    assert np.all(a.true_uplift[persuadable] > 0.25)
    assert np.all(a.true_uplift[sleeping] < 0)
    assert 0.4 < a.treated.mean() < 0.6  # the past promotion was random
    with pytest.raises(ValueError, match="at least 1"):
        synthetic.shoppers(0, seed=1)


def test_the_model_ranks_customers_by_what_the_promotion_changes(trained) -> None:  # type: ignore[no-untyped-def]
    model, held_out = trained
    score = model.uplift(held_out.features)
    qini = uplift.qini_coefficient(score, held_out.treated, held_out.bought)
    oracle = uplift.qini_coefficient(held_out.true_uplift, held_out.treated, held_out.bought)
    random = uplift.qini_coefficient(
        np.random.default_rng(0).random(held_out.n), held_out.treated, held_out.bought
    )
    rule = uplift.qini_coefficient(
        held_out.viewed_not_bought().astype(float), held_out.treated, held_out.bought
    )
    assert qini > random + 0.2 * (oracle - random)
    assert qini > rule
    # The estimated uplift of each hidden type is in the right direction.
    for kind, sign in (("persuadable", 1), ("sleeping_dog", -1)):
        mask = held_out.customer_type == synthetic.TYPES.index(kind)
        assert np.sign(score[mask].mean()) == sign


def candidates(model: uplift.TLearner, people: synthetic.Shoppers) -> list[uplift.Candidate]:
    with_promotion, _ = model.probabilities(people.features)
    gain = model.incremental_margin(people.features, people.basket_value * MARGIN_RATE, DISCOUNT)
    return [
        uplift.Candidate(
            str(i),
            "SAVE15",
            f"P{people.product[i]}",
            float(gain[i]),
            float(with_promotion[i] * DISCOUNT),
        )
        for i in range(people.n)
    ]


def test_the_budgeted_selection_beats_seed_004s_rule(trained) -> None:  # type: ignore[no-untyped-def]
    model, held_out = trained
    truth = held_out.true_incremental_margin(MARGIN_RATE, DISCOUNT)
    budget = 3_000.0
    chosen = uplift.select(candidates(model, held_out), budget=budget)
    assert chosen.spent <= budget
    realized = sum(truth[int(g.customer)] for g in chosen.grants)
    # Seed 004's rule: everyone who viewed and did not buy, until the same budget runs out.
    with_promotion, _ = model.probabilities(held_out.features)
    spent, rule_realized = 0.0, 0.0
    for i in np.random.default_rng(3).permutation(np.flatnonzero(held_out.viewed_not_bought())):
        cost = with_promotion[i] * DISCOUNT
        if spent + cost > budget:
            break
        spent += cost
        rule_realized += truth[i]
    assert realized > 0
    assert realized > rule_realized + 0.25 * abs(rule_realized)
    # And giving it to everyone who viewed and did not buy, budget or not, loses to the model.
    everyone = truth[held_out.viewed_not_bought()].sum()
    assert realized > everyone


def test_selection_respects_budget_stock_and_limits() -> None:
    c = uplift.Candidate
    found = uplift.select(
        [
            c("ann", "A", "LOUNGE", 30.0, 10.0),
            c("ann", "B", "SEAT", 25.0, 5.0),
            c("bob", "A", "LOUNGE", 20.0, 10.0),
            c("cy", "A", "LOUNGE", 12.0, 10.0),
            c("dee", "A", "MEAL", 50.0, 1.0),
            c("eve", "A", "SEAT", -2.0, 1.0),
            c("fay", "A", "SEAT", 9.0, 20.0),
        ],
        budget=26.0,
        stock={"LOUNGE": 1, "SEAT": 5, "MEAL": 5},
        low_stock=frozenset({"MEAL"}),
    )
    assert [(g.customer, g.promotion) for g in found.grants] == [("ann", "B"), ("bob", "A")]
    assert found.spent == 15.0
    assert found.expected_incremental_margin == 45.0
    assert found.skipped == {
        "product low in stock": 1,
        "customer limit": 1,
        "product's promotion stock used": 1,
        "no expected gain": 1,
        "over budget": 1,
    }
    with pytest.raises(ValueError, match="budget"):
        uplift.select([], budget=-1)


def test_qini_of_a_perfect_ranking_and_bad_input() -> None:
    treated = np.array([True, False] * 50)
    outcome = np.array(
        [1, 0] * 25 + [0, 0] * 25, dtype=float
    )  # the promotion works on the first half
    perfect = np.concatenate([np.ones(50), np.zeros(50)])
    assert uplift.qini_coefficient(perfect, treated, outcome) > uplift.qini_coefficient(
        perfect[::-1], treated, outcome
    )
    with pytest.raises(ValueError, match="same non-empty length"):
        uplift.qini_curve([1.0], [True, False], [1.0])
    with pytest.raises(ValueError, match="both buyers and non-buyers"):
        uplift.TLearner().fit(
            np.zeros((4, 1)), [True, True, False, False], [True, True, False, True]
        )
    with pytest.raises(ValueError, match="fit the model first"):
        uplift.TLearner().uplift(np.zeros((1, 1)))
