"""Shop's conversion model per search: what it reads of a search, the Beta-Binomial rates it
starts from, how its learnt estimates take over, and what a search logs."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import msgspec
import numpy as np
import pytest

from offerengine.learning.policy import SHOP, ContextualDef, OfferTypeAction, ShopLearner
from offerengine.shopping import core, personal

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
SEARCH = core.Search(
    origin="JFK",
    destination="LHR",
    day=date(2026, 12, 11),
    passengers=core.Passengers(2, 1, 0),
    currency="USD",
    customer={"id": "c-1", "tier": "GOLD", "segment": "business"},
    channel="app",
    context={"campaign": "winter"},
)
# FLIGHT_ONLY: 10 of 100 business searches ordered; COMFORT: 30 of 100.
BASE = core.ConversionModel(
    {("FLIGHT_ONLY", "business"): (100, 10), ("COMFORT", "business"): (100, 30)}
)


def spec(line: str = "live", method: str = "linucb", **config: object) -> ContextualDef:
    return ContextualDef.of(
        line,
        {
            "method": method,
            "features": ["profile.tier=GOLD", "context.channel=app", "context.days_ahead"],
            "reward": "order",
            "warmup": 1,
            **config,
        },
        0.05,
    )


TYPES = (OfferTypeAction("FLIGHT_ONLY"), OfferTypeAction("COMFORT"))


def learner(method: str = "linucb", **config: object) -> ShopLearner:
    return ShopLearner(TYPES, spec("live", method, **config))


def personalise(
    shop: ShopLearner, models: tuple[Any, Any], version: int | None, *, seed: int = 0
) -> personal.Personalised:
    """SEARCH personalised by ``models`` (live, shadow) over the BASE rates."""
    facts = personal.facts_of(SEARCH, SEARCH.customer, NOW)
    return personal.personalise(
        shop, models, version, BASE, SEARCH, facts, np.random.default_rng(seed)
    )


def test_a_search_is_seen_through_its_customer_and_context() -> None:
    facts = personal.facts_of(SEARCH, {"tier": "GOLD"}, NOW)
    assert spec().context(facts) == [1.0, 1.0, 1.0, 10.0]
    assert facts["context.adults"] == 2
    assert facts["context.children"] == 1
    assert facts["context.campaign"] == "winter"
    assert facts["profile.id"] == "c-1"


@pytest.mark.parametrize("method", ["linucb", "thompson", "epsilon_greedy"])
def test_unlearnt_it_gives_the_beta_binomial_rates(method: str) -> None:
    shop = learner(method)
    found = personalise(shop, (shop.contextual.fresh(), None), None)
    for offer_type in ("FLIGHT_ONLY", "COMFORT"):
        expected = BASE.probability(offer_type, "business")
        assert found.conversion.probability(offer_type, "business") == pytest.approx(expected)
        assert found.confidence[offer_type] == 0.0
    assert found.chances["COMFORT"] == pytest.approx(1.0)  # the higher rate, every time
    # An offer type it does not know keeps the Beta-Binomial estimate.
    assert found.conversion.probability("LOUNGE", "business") == BASE.probability("LOUNGE", "*")


def test_learnt_estimates_take_over_per_context() -> None:
    shop = learner()
    model = shop.contextual.fresh()
    gold = shop.contextual.context(personal.facts_of(SEARCH, SEARCH.customer, NOW))
    for _ in range(50):  # gold customers order FLIGHT_ONLY, never COMFORT
        model.update("FLIGHT_ONLY", gold, 1.0)
        model.update("COMFORT", gold, 0.0)
    found = personalise(shop, (model, None), 3)
    p = found.conversion.learnt
    assert p["FLIGHT_ONLY"] > 0.8 > 0.2 > p["COMFORT"] >= personal.FLOOR
    assert found.confidence["FLIGHT_ONLY"] > 0.9
    assert found.explain("FLIGHT_ONLY")["version"] == 3

    rows = [
        msgspec.structs.asdict(log)
        for log in found.logs(uuid.uuid4().hex, NOW, ["FLIGHT_ONLY", "COMFORT", "FLIGHT_ONLY"])
    ]
    assert [(r["rank"], r["offer_id"]) for r in rows] == [(0, "FLIGHT_ONLY"), (1, "COMFORT")]
    assert rows[0]["activity_id"] == SHOP
    assert rows[0]["candidates"] == ["FLIGHT_ONLY", "COMFORT"]
    assert rows[0]["contexts"] == {shop.contextual.shape: gold}
    assert rows[0]["propensity"] == pytest.approx(1.0)  # linucb: deterministic
    assert rows[0]["model"] == {"line": "live", "version": 3}


def test_an_explored_offer_type_scores_as_the_best() -> None:
    shop = learner("epsilon_greedy", epsilon=1.0)
    model = shop.contextual.fresh()
    x = shop.contextual.context(personal.facts_of(SEARCH, SEARCH.customer, NOW))
    for _ in range(50):
        model.update("FLIGHT_ONLY", x, 1.0)
        model.update("COMFORT", x, 0.0)
    tops = set()
    for seed in range(20):
        found = personalise(shop, (model, None), 1, seed=seed)
        p = found.conversion.learnt
        tops.add(max(p, key=lambda k: p[k]))
        assert len(set(p.values())) == len(p)  # never a tie: priority would decide it
        assert sum(found.chances.values()) == pytest.approx(1.0)
    assert tops == {"FLIGHT_ONLY", "COMFORT"}


def test_a_shadow_rates_every_search_without_serving() -> None:
    shop = ShopLearner(TYPES, None, spec("shadow"))
    candidate = spec("shadow").fresh()
    x = spec("shadow").context(personal.facts_of(SEARCH, SEARCH.customer, NOW))
    for _ in range(50):  # the shadow learnt that these customers order FLIGHT_ONLY
        candidate.update("FLIGHT_ONLY", x, 1.0)
        candidate.update("COMFORT", x, 0.0)
    found = personalise(shop, (None, candidate), None)
    assert found.conversion is BASE  # the Beta-Binomial rates serve
    assert not found.live
    rows = [
        msgspec.structs.asdict(log)
        for log in found.logs(uuid.uuid4().hex, NOW, ["COMFORT", "FLIGHT_ONLY"])
    ]
    assert [(r["offer_id"], r["propensity"], r["shadow"]) for r in rows] == [
        ("COMFORT", 1.0, "FLIGHT_ONLY"),  # deterministic ranking; the shadow would differ
        ("FLIGHT_ONLY", 1.0, None),
    ]
    assert rows[0]["model"] is None
    assert rows[0]["contexts"] == {spec("shadow").shape: x}
