"""Deciding the next best offer: the compiled activities of a tenant, and the funnel.

At snapshot build every approved activity gets its candidates — the approved offers of its
collection that have a representation for its placement — compiled and sorted by priority. Per
request a candidate goes through calendar → eligibility → score; capping and de-duplication need
counters and the other activities of the request, so the service applies them as it picks
(:func:`ranked` yields candidates best first, lazily when the order is known in advance).

The package in two parts: :mod:`._index`, what a snapshot compiles, and :mod:`._funnel`, what
one request does with it.
"""

from offerengine.decisioning.core._funnel import (
    PROPENSITY_DRAWS,
    BanditRanking,
    Candidate,
    eligible,
    passing,
    propensity,
    ranked,
    ranked_by_bandit,
    ranked_by_model,
    request_facts,
)
from offerengine.decisioning.core._index import (
    DEFAULT_MAX_ACTIVITIES,
    ROLLING_SECONDS,
    ActivityDef,
    Cap,
    DecisioningIndex,
    Fallback,
    Model,
    OfferDef,
    Source,
    Stored,
    offer_facts,
    priority_order,
    score_statically,
    static,
)

__all__ = [
    "DEFAULT_MAX_ACTIVITIES",
    "PROPENSITY_DRAWS",
    "ROLLING_SECONDS",
    "ActivityDef",
    "BanditRanking",
    "Candidate",
    "Cap",
    "DecisioningIndex",
    "Fallback",
    "Model",
    "OfferDef",
    "Source",
    "Stored",
    "eligible",
    "offer_facts",
    "passing",
    "priority_order",
    "propensity",
    "ranked",
    "ranked_by_bandit",
    "ranked_by_model",
    "request_facts",
    "score_statically",
    "static",
]
