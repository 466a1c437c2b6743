"""Shop's conversion probability, personalised: the offer rules' ``conversion_model``, a
contextual bandit whose arms are the offer types (``offerengine.learning``).

Per search: the customer's facts (``profile.*``: the stored profile of ``customer.id`` under the
search's customer fields; ``context.*``: the search's context and its channel, cabin, route, party
and days ahead) make the feature vector; the bandit scores every offer type — its learnt
P(order | type, x), blended with the Beta-Binomial rate of the type in the customer's segment by
its confidence in this context, drawn (Thompson), bounded (LinUCB) or now and then explored
(epsilon-greedy: the explored type scores as the best) — and that is the search's ``P``. With
nothing learnt, ``P`` is exactly the Beta-Binomial rate: never random serving.

Each offer type a search shows logs a ``decision_logs`` row (the search's id as the decision's,
:data:`~offerengine.learning.policy.SHOP` as the activity's): the offer types it chose from,
the probability that the bandit rated this type highest (its propensity), the features, the
version. An order made from an offer of the type within the reward window is its reward
(the order's ``order`` event carries the search's id); training rounds learn them as they do an
activity's.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from offerengine.learning.bandit import LinearBandit
from offerengine.learning.policy import SHOP, ShopLearner
from offerengine.recording import records
from offerengine.rules.facts import flatten
from offerengine.shopping import core

FLOOR = 1e-6  # a conversion probability is never quite 0: the margin still orders such offers


@dataclass(frozen=True, slots=True)
class Personalised:
    """What the conversion model (and its shadow) made of one search, and what its logs need.
    Without a live model the conversion is the Beta-Binomial one and the ranking deterministic:
    the shadow's logs then say propensity 1."""

    conversion: core.Conversion
    keys: tuple[str, ...]  # the offer types, by priority
    contexts: Mapping[str, list[float]]  # the feature vectors, by the features' shape
    chances: Mapping[str, float]  # π(type rated highest | x); empty without a live model
    version: int | None  # the live version that served; None: none, or nothing learnt yet
    confidence: Mapping[str, float]  # the learnt estimate's weight in the blend, per type
    prior: Mapping[str, float]  # the Beta-Binomial rate per type, for the customer's segment
    method: str | None  # the live model's; None: no live model
    shadow: str | None = None  # the type the shadow model would have rated highest

    @property
    def live(self) -> bool:
        return self.method is not None

    def explain(self, offer_type: str) -> dict[str, Any]:
        """How an offer's conversion probability was come by (its score parts show it)."""
        estimate = self.conversion.probability(offer_type, "*") if self.live else 0.0
        return {
            "method": self.method,
            "version": self.version,
            "prior": round(self.prior.get(offer_type, 0.0), 6),
            "confidence": self.confidence.get(offer_type, 0.0),
            "estimate": round(estimate, 6),
            "propensity": round(self.chances.get(offer_type, 0.0), 6),
        }

    def logs(self, search_id: str, at: datetime, shown: Sequence[str]) -> list[records.ChoiceLog]:
        """What the model chose from, per offer type shown, in the order first shown."""
        seen: list[str] = []
        for offer_type in shown:
            if offer_type not in seen and offer_type in self.keys:
                seen.append(offer_type)
        decision_id = uuid.UUID(search_id)
        model = {"line": "live", "version": self.version} if self.live else None
        return [
            records.ChoiceLog(
                decision_id=decision_id,
                activity_id=SHOP,
                rank=rank,
                made_at=at,
                offer_id=offer_type,
                propensity=self.chances[offer_type] if self.live else 1.0,
                candidates=list(self.keys),
                contexts=dict(self.contexts),
                model=model,
                shadow=self.shadow if rank == 0 else None,
            )
            for rank, offer_type in enumerate(seen)
        ]


def facts_of(search: core.Search, attributes: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The facts a search's conversion model reads."""
    context = {
        **search.context,
        "channel": search.channel,
        "cabin": search.cabin,
        "origin": search.origin,
        "destination": search.destination,
        "adults": search.passengers.adults,
        "children": search.passengers.children,
        "infants": search.passengers.infants,
        "days_ahead": (search.day - now.date()).days,
    }
    # As a decision's facts (``decisioning.core.request_facts``) but as given: the features
    # read numbers and values alike either way, and typing every fact would cost a tenth of a
    # millisecond a search.
    facts = {k: v for k, v in flatten(attributes, "profile.").items() if v is not None}
    facts.update((k, v) for k, v in flatten(context, "context.").items() if v is not None)
    customer_id = search.customer.get("id")
    facts["profile.id"] = "" if customer_id is None else str(customer_id)
    return facts


def personalise(
    learner: ShopLearner,
    models: tuple[LinearBandit | None, LinearBandit | None],
    version: int | None,
    base: core.ConversionModel,
    search: core.Search,
    facts: Mapping[str, Any],
    rng: np.random.Generator,
) -> Personalised:
    """The search's conversion probability per offer type (see the module's doc), by the live
    model's learnt state (``models[0]``), and the shadow's pick by its own (``models[1]``)."""
    keys = tuple(a.key for a in learner.candidates)
    segment = search.segment
    rates = {k: base.probability(k, segment) for k in keys}
    prior = np.array(list(rates.values())) - 1e-9 * np.arange(len(keys))
    contexts: dict[str, list[float]] = {}
    found = Personalised(base, keys, contexts, {}, None, {}, rates, None)
    spec, model = learner.contextual, models[0]
    if spec is not None and model is not None:
        x = contexts[spec.shape] = spec.context(facts)
        choice = model.choose(keys, x, prior, rng)
        scores = {keys[i]: float(choice.scores[place]) for place, i in enumerate(choice.order)}
        learnt = {k: min(max(v, FLOOR), 1.0) for k, v in scores.items()}
        top = keys[choice.chosen]  # an explored type scores as the best, the others a hair below
        best = learnt[top] = max(learnt.values())
        for k, v in learnt.items():
            if k != top:
                learnt[k] = min(v, best - 1e-9)
        floor = 1.0 / spec.settings.draws if spec.settings.method == "thompson" else 0.0
        found = Personalised(
            core.Personal(base, learnt),
            keys,
            contexts,
            {k: max(float(p), floor) for k, p in zip(keys, choice.chances, strict=True)},
            version,
            {keys[i]: round(float(choice.confidence[p]), 6) for p, i in enumerate(choice.order)},
            rates,
            spec.settings.method,
        )
    shadow, candidate = learner.shadow, models[1]
    if shadow is not None and candidate is not None:
        x = contexts.get(shadow.shape) or shadow.context(facts)
        contexts[shadow.shape] = x
        pick = candidate.choose(keys, x, prior, rng)
        found = dataclasses.replace(found, shadow=keys[pick.chosen])
    return found
