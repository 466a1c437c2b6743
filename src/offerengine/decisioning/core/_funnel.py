"""The funnel of one request over the compiled index: a candidate goes through calendar →
eligibility → score, each step saying why a candidate fell (``_fate``), and :func:`ranked` yields
the survivors best first: lazily when the order is known in advance (priority, static formula),
sorted by per-request scores or a model's draws otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from offerengine.decisioning.core._index import (
    ActivityDef,
    Model,
    OfferDef,
)
from offerengine.learning.bandit import LinearBandit
from offerengine.rules import core as rules
from offerengine.rules.facts import convert, flatten
from offerengine.rules.types import ANY


def request_facts(
    profile_id: str, attributes: Mapping[str, Any], context: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The facts of a request that every offer's rules share."""
    facts: dict[str, Any] = {rules.NOW: now}
    for prefix, payload in (("profile.", attributes), ("context.", context)):
        for key, raw in flatten(payload, prefix).items():
            if raw is not None:
                facts[key] = convert(raw, ANY)
    facts["profile.id"] = profile_id
    return facts


@dataclass(slots=True)
class Candidate:
    offer: OfferDef
    score: Decimal | float
    parts: dict[str, Any] | None = None
    posterior: tuple[float, float] | None = None  # model ranking: Beta(a, b) of its rate
    position: int = 0  # contextual ranking: its place among the passing candidates


@dataclass(frozen=True, slots=True)
class BanditRanking:
    """A contextual bandit's ranking of the passing candidates, with what its logs need."""

    candidates: list[Candidate]  # best first
    x: list[float]  # the request's feature vector
    propensity: float  # of the first, among them all


def ranked_by_bandit(
    activity: ActivityDef,
    facts: dict[str, Any],
    now: datetime,
    fates: list[dict[str, Any]] | None,
    learnt: LinearBandit,
    rng: np.random.Generator,
) -> BanditRanking:
    """Contextual ranking: the passing candidates as the bandit ranks them for the request's
    features, its learnt reward blended with the activity's own order by confidence."""
    spec = activity.contextual
    assert spec is not None
    offers = list(passing(activity, facts, now, fates))
    x = spec.context(facts)
    if not offers:
        return BanditRanking([], x, 1.0)
    prior = spec.prior([o.worth for o in offers], [o.cost for o in offers])
    choice = learnt.choose([o.key for o in offers], x, prior, rng)
    found = []
    for place, i in enumerate(choice.order):
        parts = None
        if fates is not None:
            parts = {
                "method": spec.settings.method,
                "reward": spec.reward,
                "prior": round(float(prior[i]), 6),
                "confidence": round(float(choice.confidence[place]), 6),
            }
        found.append(Candidate(offers[i], float(choice.scores[place]), parts, position=i))
    return BanditRanking(found, x, float(choice.propensity))


def _fate(offer: OfferDef, stage: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "offer_id": str(offer.id),
        "name": offer.name,
        "stage": stage,
        "reason": reason,
        **extra,
    }


def eligible(offer: OfferDef, facts: dict[str, Any]) -> bool:
    """Whether the offer's eligibility rule passes for these request facts."""
    return _eligible(offer, facts, None)[0]


def _eligible(
    offer: OfferDef, facts: dict[str, Any], fates: list[dict[str, Any]] | None
) -> tuple[bool, dict[str, Any] | None]:
    """Whether ``offer`` passes its eligibility rule; the facts it was judged on."""
    if offer.eligibility is None:
        return True, None
    merged = {**facts, **offer.facts} if offer.rule_reads_offer else facts
    try:
        passed = bool(offer.eligibility.evaluate(merged))
    except rules.MissingFact as exc:
        if fates is not None:
            fates.append(
                _fate(
                    offer,
                    "eligibility",
                    f"the rule reads {exc.name}, which the request does not give",
                    rule=offer.eligibility.source,
                )
            )
        return False, None
    except rules.EvaluationError as exc:
        if fates is not None:
            fates.append(_fate(offer, "eligibility", str(exc), rule=offer.eligibility.source))
        return False, None
    if not passed and fates is not None:
        fates.append(
            _fate(offer, "eligibility", "the rule is false", rule=offer.eligibility.source)
        )
    return passed, merged


def ranked(
    activity: ActivityDef,
    facts: dict[str, Any],
    now: datetime,
    fates: list[dict[str, Any]] | None,
) -> Iterator[Candidate]:
    """The activity's candidates that pass calendar and eligibility, best first.

    Priority ranking, and formulas that read only the offer, yield lazily (the order is known at
    snapshot build), so a request that needs one item evaluates rules only until it has one.
    ``fates`` (when explaining) collects why the others dropped out.
    """
    formula = activity.formula
    if formula is None or activity.scores is not None:
        yield from _in_order(activity, facts, now, fates)
        return
    scored: list[Candidate] = []
    for offer in passing(activity, facts, now, fates):
        try:
            score = Decimal(formula.evaluate({**facts, **offer.facts}))
        except rules.EvaluationError as exc:
            if fates is not None:
                fates.append(_fate(offer, "ranking", str(exc), formula=formula.source))
            continue
        parts: dict[str, Any] | None = None
        if fates is not None:
            parts = {"formula": activity.formula_name, "expression": formula.source}
        scored.append(Candidate(offer, score, parts))
    scored.sort(key=lambda c: (-c.score, -c.offer.priority, c.offer.name, c.offer.key))
    yield from scored


def passing(
    activity: ActivityDef, facts: dict[str, Any], now: datetime, fates: list[dict[str, Any]] | None
) -> Iterator[OfferDef]:
    """The activity's candidates within their calendar whose eligibility rule passes."""
    for offer in activity.candidates:
        why = offer.off_calendar(now)
        if why is not None:
            if fates is not None:
                fates.append(_fate(offer, "calendar", why))
            continue
        if _eligible(offer, facts, fates)[0]:
            yield offer


def ranked_by_model(
    activity: ActivityDef,
    facts: dict[str, Any],
    now: datetime,
    fates: list[dict[str, Any]] | None,
    posterior: Callable[[OfferDef], tuple[float, float]],
    rng: np.random.Generator,
) -> list[Candidate]:
    """Model ranking: each passing candidate's acceptance rate in the placement is Beta(a, b)
    (``posterior``); its score is the rate — one draw from the posterior (thompson) or its mean —
    × the offer's value − its cost. Best first; ties by priority, name, id."""
    model = activity.model
    assert model is not None
    offers = list(passing(activity, facts, now, fates))
    if not offers:
        return []
    params = np.array([posterior(o) for o in offers], dtype=float)
    a, b = params[:, 0], params[:, 1]
    mean = a / (a + b)
    rate = rng.beta(a, b) if model.policy == "thompson" else mean
    found: list[Candidate] = []
    for i, offer in enumerate(offers):
        score = float(rate[i]) * offer.worth - offer.cost
        parts = None
        if fates is not None:
            parts = {
                "policy": model.policy,
                "success": model.success,
                "alpha": round(float(a[i]), 6),
                "beta": round(float(b[i]), 6),
                "mean": round(float(mean[i]), 6),
                "rate": round(float(rate[i]), 6),
                "value": offer.worth,
                "cost": offer.cost,
            }
        found.append(Candidate(offer, score, parts, (float(a[i]), float(b[i]))))
    found.sort(key=lambda c: (-c.score, -c.offer.priority, c.offer.name, c.offer.key))
    return found


PROPENSITY_DRAWS = 1000


def propensity(
    model: Model, pool: Sequence[Candidate], chosen: Candidate, rng: np.random.Generator
) -> float:
    """How likely the policy was to propose ``chosen`` from ``pool`` (the candidates still in the
    running when it was picked, itself included): 1 for the posterior mean, which is
    deterministic; for Thompson sampling the share of ``PROPENSITY_DRAWS`` fresh draws in which it
    scores best (never below 1 / draws, so that inverse-propensity weights stay finite)."""
    if model.policy == "mean" or len(pool) < 2:
        return 1.0
    params = np.array([c.posterior for c in pool], dtype=float)
    worth = np.array([c.offer.worth for c in pool])[:, None]
    cost = np.array([c.offer.cost for c in pool])[:, None]
    draws = rng.beta(params[:, :1], params[:, 1:], size=(len(pool), PROPENSITY_DRAWS))
    best = np.argmax(draws * worth - cost, axis=0)
    at = next(i for i, c in enumerate(pool) if c is chosen)
    won = int(np.count_nonzero(best == at))
    return max(won, 1) / PROPENSITY_DRAWS


def _in_order(
    activity: ActivityDef,
    facts: dict[str, Any],
    now: datetime,
    fates: list[dict[str, Any]] | None,
) -> Iterator[Candidate]:
    scores = activity.scores
    parts: dict[str, Any] | None = None
    if fates is not None and activity.formula is not None:
        parts = {"formula": activity.formula_name, "expression": activity.formula.source}
    for offer in activity.candidates:
        if offer.start is not None or offer.end is not None:
            why = offer.off_calendar(now)
            if why is not None:
                if fates is not None:
                    fates.append(_fate(offer, "calendar", why))
                continue
        if offer.eligibility is not None and not _eligible(offer, facts, fates)[0]:
            continue
        if scores is None:
            yield Candidate(offer, Decimal(offer.priority), {"priority": offer.priority})
            continue
        score = scores[offer.id]
        if isinstance(score, str):
            if fates is not None:
                fates.append(_fate(offer, "ranking", score, formula=activity.formula.source))  # type: ignore[union-attr]
            continue
        yield Candidate(offer, score, parts)
