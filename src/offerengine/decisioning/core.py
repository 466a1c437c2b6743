"""Deciding the next best offer: the compiled activities of a tenant, and the funnel.

At snapshot build every approved activity gets its candidates — the approved offers of its
collection that have a representation for its placement — compiled and sorted by priority. Per
request a candidate goes through calendar → eligibility → score; capping and de-duplication need
counters and the other activities of the request, so the service applies them as it picks
(:func:`ranked` yields candidates best first, lazily when the order is known in advance).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from offerengine.rules import core as rules
from offerengine.rules.facts import convert, flatten
from offerengine.rules.types import ANY

DEFAULT_MAX_ACTIVITIES = 30


@dataclass(frozen=True, slots=True)
class Cap:
    """One capping rule of an offer. Its counters are keyed by what the rule counts, not by its
    position, so reordering rules or changing a limit keeps the counts."""

    scope: str  # global | profile
    limit: int
    event: str  # decision | impression | click | accept
    window: str  # lifetime | calendar
    unit: str | None  # day | week | month
    timezone: ZoneInfo

    @property
    def key(self) -> str:
        return f"{self.scope}:{self.event}:{self.window}:{self.unit or ''}:{self.timezone.key}"

    def subject(self, profile_id: str) -> str:
        return profile_id if self.scope == "profile" else ""

    def bucket(self, at: datetime) -> str:
        """The window ``at`` falls in: '' for a lifetime, else the local date it started."""
        if self.window == "lifetime":
            return ""
        local = at.astimezone(self.timezone).date()
        if self.unit == "week":
            local = local - timedelta(days=local.weekday())
        elif self.unit == "month":
            local = date(local.year, local.month, 1)
        return local.isoformat()

    def describe(self) -> str:
        per = "everyone" if self.scope == "global" else "each profile"
        window = "ever" if self.window == "lifetime" else f"per {self.unit} ({self.timezone.key})"
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
    # Made once, from the above: the id as text; whether the rule needs the offer's facts.
    key: str = field(init=False)
    rule_reads_offer: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", str(self.id))
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
    key: str = field(init=False)  # the ids as text, made once
    placement_key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", str(self.id))
        object.__setattr__(self, "placement_key", str(self.placement_id))

    @property
    def ranking(self) -> str:
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
    score: Decimal
    parts: dict[str, Any] | None = None


def _fate(offer: OfferDef, stage: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "offer_id": str(offer.id),
        "name": offer.name,
        "stage": stage,
        "reason": reason,
        **extra,
    }


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
    for offer in activity.candidates:
        why = offer.off_calendar(now)
        if why is not None:
            if fates is not None:
                fates.append(_fate(offer, "calendar", why))
            continue
        passed, _ = _eligible(offer, facts, fates)
        if not passed:
            continue
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
