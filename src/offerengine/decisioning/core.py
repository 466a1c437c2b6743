"""Deciding the next best offer: the compiled activities of a tenant, and the funnel.

At snapshot build every approved activity gets its candidates — the approved offers of its
collection that have a representation for its placement — compiled and sorted by priority. Per
request a candidate goes through calendar → eligibility → score; capping and de-duplication need
counters and the other activities of the request, so the service applies them as it picks
(:func:`ranked` yields candidates best first, lazily when the order is known in advance).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from offerengine.experiments.core import ExperimentFacts
from offerengine.learning.bandit import LinearBandit
from offerengine.learning.policy import ContextualDef
from offerengine.rules import core as rules
from offerengine.rules.facts import convert, flatten
from offerengine.rules.types import ANY

DEFAULT_MAX_ACTIVITIES = 30


# A rolling window's unit in seconds (a month is 30 days).
ROLLING_SECONDS = {"hour": 3_600, "day": 86_400, "week": 7 * 86_400, "month": 30 * 86_400}


@dataclass(frozen=True, slots=True)
class Cap:
    """One capping rule of an offer. Its counters are keyed by what the rule counts, not by its
    position, so reordering rules or changing a limit keeps the counts."""

    scope: str  # global | profile
    limit: int
    event: str  # decision | impression | click | accept
    window: str  # lifetime | calendar | rolling
    unit: str | None  # hour (rolling only) | day | week | month
    timezone: ZoneInfo
    count: int = 1  # rolling windows: how many units

    @property
    def key(self) -> str:
        span = f"{self.count}{self.unit}" if self.rolling else self.unit or ""
        return f"{self.scope}:{self.event}:{self.window}:{span}:{self.timezone.key}"

    @property
    def rolling(self) -> bool:
        return self.window == "rolling"

    @property
    def seconds(self) -> int:
        """A rolling window's length."""
        return ROLLING_SECONDS[self.unit or "day"] * self.count

    def subject(self, profile_id: str) -> str:
        return profile_id if self.scope == "profile" else ""

    def bucket(self, at: datetime) -> str:
        """The window ``at`` falls in: '' for a lifetime, the local date a calendar window
        started, 'rolling' for a rolling window (its events carry their own times)."""
        if self.window == "lifetime":
            return ""
        if self.rolling:
            return "rolling"
        local = at.astimezone(self.timezone).date()
        if self.unit == "week":
            local = local - timedelta(days=local.weekday())
        elif self.unit == "month":
            local = date(local.year, local.month, 1)
        return local.isoformat()

    def describe(self) -> str:
        per = "everyone" if self.scope == "global" else "each profile"
        if self.window == "lifetime":
            window = "ever"
        elif self.rolling:
            window = f"in any {self.count} {self.unit}{'s' if self.count > 1 else ''}"
        else:
            window = f"per {self.unit} ({self.timezone.key})"
        return f"{self.limit} {self.event}s for {per} {window}"


@dataclass(frozen=True, slots=True)
class OfferDef:
    id: uuid.UUID
    name: str
    priority: int
    start: datetime | None
    end: datetime | None
    content: Mapping[uuid.UUID, Mapping[str, Any]]  # placement id → representation content
    eligibility: rules.Compiled | None
    caps: tuple[Cap, ...]
    facts: Mapping[str, Any]  # offer.* facts for rules (its value and cost among them)
    # Made once, from the above: the id as text; whether the rule needs the offer's facts; what
    # an acceptance is worth and a proposal costs for model ranking (1 and 0 when not given).
    key: str = field(init=False)
    rule_reads_offer: bool = field(init=False)
    worth: float = field(init=False)
    cost: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", str(self.id))
        object.__setattr__(self, "worth", float(self.facts.get("offer.value", 1)))
        object.__setattr__(self, "cost", float(self.facts.get("offer.cost", 0)))
        reads = self.eligibility is not None and any(
            f.startswith("offer.") for f in self.eligibility.facts
        )
        object.__setattr__(self, "rule_reads_offer", reads)

    def off_calendar(self, now: datetime) -> str | None:
        return _off_calendar(self.start, self.end, now, "")


@dataclass(frozen=True, slots=True)
class Fallback:
    id: uuid.UUID
    name: str
    content: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Model:
    """Model ranking: each offer's acceptance rate in the placement, learned from feedback
    (:mod:`offerengine.decisioning.learning`), sampled (thompson) or averaged (mean)."""

    policy: str  # thompson | mean
    success: str  # accept | click
    alpha: float
    beta: float

    def describe(self) -> str:
        how = "Thompson sampling" if self.policy == "thompson" else "posterior mean"
        return f"model ({how} of the {self.success} rate × value − cost)"


@dataclass(frozen=True, slots=True)
class ActivityDef:
    id: uuid.UUID
    name: str
    placement_id: uuid.UUID
    start: datetime | None
    end: datetime | None
    # Best first: by priority, or by a formula's score when it reads nothing but the offer (then
    # computed once, in ``scores``); ties by priority, name, id.
    candidates: tuple[OfferDef, ...]
    fallback: Fallback
    formula: rules.Compiled | None = None
    formula_name: str | None = None
    # A static formula's score per offer, or why it cannot be computed; None: scored per request.
    scores: Mapping[uuid.UUID, Decimal | str] | None = None
    model: Model | None = None
    # Model ranking by a contextual bandit, and a candidate one scoring alongside (shadow).
    contextual: ContextualDef | None = None
    shadow: ContextualDef | None = None
    key: str = field(init=False)  # the ids as text, made once
    placement_key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", str(self.id))
        object.__setattr__(self, "placement_key", str(self.placement_id))

    @property
    def ranking(self) -> str:
        if self.contextual is not None:
            return self.contextual.describe()
        if self.model is not None:
            return self.model.describe()
        return "priority" if self.formula_name is None else f"formula {self.formula_name!r}"

    def off_calendar(self, now: datetime) -> str | None:
        return _off_calendar(self.start, self.end, now, "the activity ")


def _off_calendar(
    start: datetime | None, end: datetime | None, now: datetime, what: str
) -> str | None:
    """Why ``now`` is outside [start, end), or None."""
    if start is not None and now < start:
        return f"{what}starts {start.isoformat()}"
    if end is not None and now >= end:
        return f"{what}ended {end.isoformat()}"
    return None


@dataclass(frozen=True)
class DecisioningIndex:
    activities: Mapping[uuid.UUID, ActivityDef] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Activities that exist but cannot take part, and why (a request naming one is told so).
    idle: Mapping[uuid.UUID, str] = field(default_factory=lambda: MappingProxyType({}))
    offers: Mapping[uuid.UUID, OfferDef] = field(default_factory=lambda: MappingProxyType({}))
    max_activities: int = DEFAULT_MAX_ACTIVITIES
    # Experiments whose variants rank decisions, and each variant's activities:
    # (experiment key, variant key, activity id) → the activity ranked the variant's way.
    experiments: tuple[ExperimentFacts, ...] = ()
    variants: Mapping[tuple[str, str, uuid.UUID], ActivityDef] = field(
        default_factory=lambda: MappingProxyType({})
    )


def priority_order(offers: Iterable[OfferDef]) -> tuple[OfferDef, ...]:
    return tuple(sorted(offers, key=lambda o: (-o.priority, o.name, o.key)))


def static(formula: rules.Compiled) -> bool:
    """A formula that reads only the offer ranks the same for every request."""
    return not formula.timed and all(f.startswith("offer.") for f in formula.facts)


def score_statically(
    formula: rules.Compiled, offers: Iterable[OfferDef]
) -> tuple[tuple[OfferDef, ...], Mapping[uuid.UUID, Decimal | str]]:
    """A static formula's scores, once, and the offers in their order (failures last)."""
    offers = list(offers)
    scores: dict[uuid.UUID, Decimal | str] = {}
    for offer in offers:
        try:
            scores[offer.id] = Decimal(formula(offer.facts))
        except rules.EvaluationError as exc:
            scores[offer.id] = str(exc)

    def order(o: OfferDef) -> tuple[Any, ...]:
        score = scores[o.id]
        if isinstance(score, str):
            return (True, 0, -o.priority, o.name, o.key)
        return (False, -score, -o.priority, o.name, o.key)

    return tuple(sorted(offers, key=order)), MappingProxyType(scores)


def offer_facts(
    name: str,
    priority: int,
    tags: Iterable[str],
    start: datetime | None,
    end: datetime | None,
    value: Decimal | None,
    cost: Decimal | None,
    attributes: Mapping[str, Any],
) -> Mapping[str, Any]:
    facts: dict[str, Any] = {
        "offer.name": name,
        "offer.priority": Decimal(priority),
        "offer.tags": tuple(tags),
    }
    for key, fact in (("offer.start", start), ("offer.end", end)):
        if fact is not None:
            facts[key] = fact
    for key, amount in (("offer.value", value), ("offer.cost", cost)):
        if amount is not None:
            facts[key] = amount
    for key, raw in flatten(attributes, "offer.attributes.").items():
        if raw is not None:
            facts[key] = convert(raw, ANY)
    return MappingProxyType(facts)


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
