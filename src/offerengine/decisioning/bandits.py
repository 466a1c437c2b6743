"""What a contextual bandit adds to a request's proposals: the state a line serves, an item's
propensity among the candidates still in the running, the log its learning and offline
evaluation read, and a shadow bandit's pick beside the live one.

Separate from :mod:`runtime` because it is the bandits' side of a decision — what they are told
and what they log — while :mod:`runtime` runs the funnel for every ranking; the draws come from
the caller's generator, so that a request draws from one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from offerengine.decisioning import core
from offerengine.learning import store
from offerengine.learning.bandit import LinearBandit
from offerengine.learning.policy import ContextualDef


def serving(
    policies: Mapping[tuple[uuid.UUID, str], store.Served],
    activity: core.ActivityDef,
    spec: ContextualDef,
) -> LinearBandit:
    """The bandit state a line serves: its active version's, or nothing learnt yet."""
    served = policies.get((activity.id, spec.line))
    return served.under(spec) if served is not None else store.fresh(spec)


def propensity(
    spec: ContextualDef,
    learnt: LinearBandit,
    ranking: core.BanditRanking,
    pool: list[core.Candidate],
    chosen: core.Candidate,
    rng: np.random.Generator,
) -> float:
    """How likely the bandit was to propose ``chosen`` first among ``pool`` (the candidates
    still in the running, itself included)."""
    if len(pool) == len(ranking.candidates):
        return ranking.propensity
    ordered = sorted(pool, key=lambda c: c.position)
    prior = spec.prior([c.offer.worth for c in ordered], [c.offer.cost for c in ordered])
    chances = learnt.probabilities([c.offer.key for c in ordered], ranking.x, prior, rng)
    found = float(chances[ordered.index(chosen)])
    return max(found, 1.0 / spec.settings.draws)


def choice_log(
    activity: core.ActivityDef,
    spec: ContextualDef,
    policies: Mapping[tuple[uuid.UUID, str], store.Served] | None,
    x: list[float],
    pool: list[core.Candidate],
    facts: Mapping[str, Any],
) -> dict[str, Any]:
    """What a proposal logs for learning and offline evaluation: the candidates it was chosen
    from (in the activity's order), the feature vectors, and the version that chose."""
    served = policies.get((activity.id, spec.line)) if policies else None
    contexts = {spec.shape: x}
    shadow = activity.shadow
    if shadow is not None and shadow.shape not in contexts:
        contexts[shadow.shape] = shadow.context(facts)
    return {
        "candidates": [c.offer.key for c in sorted(pool, key=lambda c: c.position)],
        "contexts": contexts,
        "model": {"line": spec.line, "version": served.version if served else None},
    }


def shadow_pick(
    activity: core.ActivityDef,
    policies: Mapping[tuple[uuid.UUID, str], store.Served],
    facts: dict[str, Any],
    now: datetime,
    first: dict[str, Any],
    logs: dict[tuple[str, str], dict[str, Any]],
    rng: np.random.Generator,
) -> None:
    """The shadow bandit's pick for the activity's first item, logged beside the live one (and,
    when the live ranking is no bandit, the candidates and features it needs, propensity 1)."""
    shadow = activity.shadow
    assert shadow is not None
    key = (activity.key, first["offer_id"])
    logged = logs.get(key)
    if logged is None:
        offers = list(core.passing(activity, facts, now, None))
        logged = logs[key] = {
            "candidates": [o.key for o in offers],
            "contexts": {shadow.shape: shadow.context(facts)},
        }
        first["propensity"] = 1.0
    keys = logged["candidates"]
    offers_by_key = {o.key: o for o in activity.candidates}
    chosen = [offers_by_key[k] for k in keys if k in offers_by_key]
    if not chosen:
        return
    learnt = serving(policies, activity, shadow)
    prior = shadow.prior([o.worth for o in chosen], [o.cost for o in chosen])
    x = logged["contexts"].get(shadow.shape) or shadow.context(facts)
    pick = learnt.choose([o.key for o in chosen], x, prior, rng)
    logged["shadow"] = chosen[pick.chosen].key
