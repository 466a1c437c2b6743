"""The compiled decisioning of a tenant: caps, offers with their facts and representations,
activities with their candidates sorted by priority (or by a static formula's scores), fallbacks
and models; built once per snapshot, read by every decision."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from offerengine.experiments.core import ExperimentFacts
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


def one_per_counter(caps: Iterable[Cap]) -> tuple[Cap, ...]:
    """The caps with one per counter: caps that count the same thing (scope, event, window) share
    a counter, keyed without the limit, so they are one cap with the tightest limit — counted
    once per proposal, wherever the counters live (SQL, Redis, a batch). Counting one counter
    once per cap had made ``[3, 1]`` never propose the offer."""
    tightest: dict[str, Cap] = {}
    for cap in caps:
        found = tightest.get(cap.key)
        if found is None or cap.limit < found.limit:
            tightest[cap.key] = cap
    return tuple(tightest.values())


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
        object.__setattr__(self, "caps", one_per_counter(self.caps))
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


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored decisioning object as compiling reads it, without its database row."""

    id: uuid.UUID
    kind: str
    name: str
    status: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Source:
    """What patching an index for a few changed objects needs beyond the index itself
    (``offerengine.decisioning.compiling.patch``): the objects of every kind but offers (a
    tenant has few of them), and the approved offers by tag, for collections that select by tag.
    Offers themselves are the index's compiled ``offers``."""

    objects: Mapping[uuid.UUID, Stored] = field(default_factory=lambda: MappingProxyType({}))
    tagged: Mapping[str, frozenset[uuid.UUID]] = field(default_factory=lambda: MappingProxyType({}))
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class DecisioningIndex:
    activities: Mapping[uuid.UUID, ActivityDef] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Activities that exist but cannot take part, and why (a request naming one is told so).
    idle: Mapping[uuid.UUID, str] = field(default_factory=lambda: MappingProxyType({}))
    # Every activity's id by its name (unique in a tenant), taking part or idle: requests may
    # name activities instead of giving their ids.
    names: Mapping[str, uuid.UUID] = field(default_factory=lambda: MappingProxyType({}))
    offers: Mapping[uuid.UUID, OfferDef] = field(default_factory=lambda: MappingProxyType({}))
    max_activities: int = DEFAULT_MAX_ACTIVITIES
    # Experiments whose variants rank decisions, and each variant's activities:
    # (experiment key, variant key, activity id) → the activity ranked the variant's way.
    experiments: tuple[ExperimentFacts, ...] = ()
    variants: Mapping[tuple[str, str, uuid.UUID], ActivityDef] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # What a patch needs (not part of what the index means: two equal indexes may differ here).
    source: Source = field(default_factory=Source, compare=False, repr=False)


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
