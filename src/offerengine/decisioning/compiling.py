"""Decisioning configuration compiled into the snapshot's :class:`core.DecisioningIndex`.

The kinds (:mod:`offerengine.decisioning.service`) are read whatever their status; only approved
ones take part. For each activity whose placement, collection, fallback offer (and ranking
formula) are all approved:

1. its candidates: the approved offers of its collection (named, or matched by tags) that have a
   representation for its placement, each with its eligibility rule and caps compiled;
2. its ranking: by priority, by a bandit model (with, when configured, a contextual bandit and a
   shadow one), or by an approved ranking formula, whose scores are computed once here when it
   reads only the offer and not the time (``core.static``);
3. every experiment whose variants rank decisions (``decision_ranking``): each variant's version
   of the activities it changes.

An activity that cannot take part is kept in ``idle`` with the reason, for the trace.

A change to a few objects need not compile the tenant again: :func:`patch` compiles the changed
offers alone and the activities they touch (an offer: the activities whose collection takes it
before or after the change; any other object: the activities that name it), keeping every other
compiled offer and activity of the index it patches. Both paths assemble the index with the same
functions, over the approved offers by tag (``core.Source``), so that a patched index equals one
compiled whole (``tests/unit/test_snapshot_patching.py`` checks it over random changes).
"""

from __future__ import annotations

import functools
import json
import uuid
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.decisioning import core
from offerengine.decisioning.models import DecisioningObject
from offerengine.decisioning.service import (
    ACTIVITY,
    FORMULA,
    OFFER,
    compile_eligibility,
    compile_formula,
)
from offerengine.experiments.core import ExperimentFacts
from offerengine.learning.policy import ContextualDef
from offerengine.rules import core as rules

K = TypeVar("K")
V = TypeVar("V")


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _offer(obj: Row) -> core.OfferDef:
    body = obj.body
    value = None if body.get("value") is None else Decimal(str(body["value"]))
    cost = None if body.get("cost") is None else Decimal(str(body["cost"]))
    start, end = _when(body.get("start")), _when(body.get("end"))
    return core.OfferDef(
        id=obj.id,
        name=obj.name,
        priority=int(body.get("priority", 0)),
        start=start,
        end=end,
        content=MappingProxyType(
            {uuid.UUID(r["placement_id"]): r["content"] for r in body["representations"]}
        ),
        eligibility=_eligibility(json.dumps(body.get("eligibility"), sort_keys=True)),
        caps=tuple(
            core.Cap(
                scope=c["scope"],
                limit=int(c["limit"]),
                event=c["event"],
                window=c["window"]["type"],
                unit=c["window"].get("unit"),
                timezone=zoneinfo.ZoneInfo(c["timezone"]),
                count=c["window"].get("count") or 1,
            )
            for c in body.get("capping", ())
        ),
        facts=core.offer_facts(
            obj.name,
            int(body.get("priority", 0)),
            body.get("tags", ()),
            start,
            end,
            value,
            cost,
            body.get("attributes", {}),
        ),
    )


@functools.lru_cache(maxsize=4096)
def _eligibility(rule: str) -> rules.Compiled | None:
    """An offer's eligibility rule compiled, once per distinct rule (as JSON text): offers share
    rules (a template with a few values), and compiling one takes milliseconds; a compiled rule
    is immutable, so offers may share it."""
    return compile_eligibility(json.loads(rule))


def _model(ranking: Mapping[str, Any]) -> core.Model | None:
    if ranking.get("method") != "model":
        return None
    prior = ranking.get("prior") or {}
    return core.Model(
        policy=ranking.get("policy", "thompson"),
        success=ranking.get("success", "accept"),
        alpha=float(prior.get("alpha", 1.0)),
        beta=float(prior.get("beta", 19.0)),
    )


def _contextual(line: str, ranking: Mapping[str, Any], which: str) -> ContextualDef | None:
    """The ranking's contextual bandit (``which``: contextual or shadow); its cold-start rate is
    the prior's mean."""
    config = ranking.get(which)
    if config is None:
        return None
    prior = ranking.get("prior") or {}
    alpha, beta = float(prior.get("alpha", 1.0)), float(prior.get("beta", 19.0))
    return ContextualDef.of(line, config, alpha / (alpha + beta))


class Row(Protocol):
    """A decisioning object as compiling reads it: a database row or a :class:`core.Stored`."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def body(self) -> Mapping[str, Any]: ...


def _members(
    collection: Row,
    tagged: Mapping[str, frozenset[uuid.UUID]],
    offers: Mapping[uuid.UUID, core.OfferDef],
) -> list[uuid.UUID]:
    """The offers a collection names, or the approved offers carrying its tags (any or all)."""
    body = collection.body
    if body.get("offer_ids") is not None:
        return [uuid.UUID(i) for i in body["offer_ids"]]
    wanted = set(body["tags"])
    every = body.get("match") == "all"
    if not wanted:
        return list(offers) if every else []
    groups = [tagged.get(tag, frozenset()) for tag in wanted]
    return list(frozenset.intersection(*groups) if every else frozenset().union(*groups))


def _selects(collection: Row, offer: uuid.UUID, tags: Iterable[str]) -> bool:
    """Whether a collection takes an offer with these tags (approved or not)."""
    body = collection.body
    if body.get("offer_ids") is not None:
        return str(offer) in body["offer_ids"]
    wanted, have = set(body["tags"]), set(tags)
    return wanted.issubset(have) if body.get("match") == "all" else bool(wanted & have)


def compile_index(
    objects: Iterable[Row],
    settings: Mapping[str, Any],
    experiments: Sequence[ExperimentFacts] = (),
) -> core.DecisioningIndex:
    """The tenant's approved activities, each with its candidates compiled and in the order its
    ranking gives when known in advance; and, for experiments whose variants rank decisions
    (``decision_ranking``), each variant's version of the activities it changes."""
    others: dict[uuid.UUID, core.Stored] = {}
    offers: dict[uuid.UUID, core.OfferDef] = {}
    tagged: dict[str, set[uuid.UUID]] = {}
    for obj in objects:
        if obj.kind != OFFER.kind:
            others[obj.id] = core.Stored(obj.id, obj.kind, obj.name, obj.status, obj.body)
        elif obj.status == "approved":
            offers[obj.id] = _offer(obj)
            for tag in set(obj.body.get("tags", ())):
                tagged.setdefault(tag, set()).add(obj.id)
    source = core.Source(
        objects=MappingProxyType(others),
        tagged=MappingProxyType({tag: frozenset(ids) for tag, ids in tagged.items()}),
        settings=settings,
    )
    activities = [o.id for o in others.values() if o.kind == ACTIVITY.kind]
    return _assemble(source, offers, experiments, set(activities), core.DecisioningIndex())


def patch(
    index: core.DecisioningIndex,
    changed: Mapping[uuid.UUID, Row | None],
    experiments: Sequence[ExperimentFacts] | None = None,
) -> core.DecisioningIndex:
    """``index`` with the objects in ``changed`` replaced (None: deleted), compiling only them
    and the activities they touch; with ``experiments``, their variants again. The index given
    is left as it is (it may still be serving)."""
    source = index.source
    others = _copy(source.objects)
    offers = _copy(index.offers)
    tagged = _copy(source.tagged)
    moved: dict[uuid.UUID, set[str]] = {}  # offers changed: their tags before and after
    small: set[uuid.UUID] = set()  # other objects changed
    for id, row in changed.items():
        before = offers.pop(id, None)
        if before is not None:
            moved[id] = set(before.facts.get("offer.tags", ()))
            for tag in moved[id]:
                rest = tagged[tag] - {id}
                if rest:
                    tagged[tag] = rest
                else:
                    del tagged[tag]
        if others.pop(id, None) is not None:
            small.add(id)
        if row is None:
            continue
        if row.kind != OFFER.kind:
            others[id] = core.Stored(row.id, row.kind, row.name, row.status, row.body)
            small.add(id)
            continue
        tags = set(row.body.get("tags", ()))
        moved.setdefault(id, set()).update(tags)
        if row.status == "approved":
            offers[id] = _offer(row)
            for tag in tags:
                tagged[tag] = tagged.get(tag, frozenset()) | {id}
    redo: set[uuid.UUID] = set()
    for act in others.values():
        if act.kind != ACTIVITY.kind:
            continue
        body = act.body
        refs = {act.id, *(uuid.UUID(str(body[k])) for k in _REFS if body.get(k))}
        formula_id = body["ranking"].get("formula_id")
        if formula_id:
            refs.add(uuid.UUID(str(formula_id)))
        collection = others.get(uuid.UUID(body["collection_id"]))
        if refs & small or (
            collection is not None
            and any(_selects(collection, offer, tags) for offer, tags in moved.items())
        ):
            redo.add(act.id)
    source = core.Source(
        objects=MappingProxyType(others),
        tagged=MappingProxyType(tagged),
        settings=source.settings,
    )
    # The index keeps only the experiments that rank decisions: enough to place variants again.
    given = index.experiments if experiments is None else experiments
    return _assemble(source, offers, given, redo, index)


_REFS = ("placement_id", "collection_id", "fallback_offer_id")


def _copy(mapping: Mapping[K, V]) -> dict[K, V]:
    """A dict of ``mapping``: its own dict's copy when it is a read-only view (no key hashed
    again, which for UUIDs is a Python call each)."""
    if isinstance(mapping, MappingProxyType):
        return cast(dict[K, V], mapping.copy())
    return dict(mapping)


def _assemble(
    source: core.Source,
    offers: Mapping[uuid.UUID, core.OfferDef],
    experiments: Sequence[ExperimentFacts],
    redo: set[uuid.UUID],
    previous: core.DecisioningIndex,
) -> core.DecisioningIndex:
    """The index over ``source`` and ``offers``: the activities in ``redo`` compiled, the others
    as in ``previous``."""
    activities: dict[uuid.UUID, core.ActivityDef] = {}
    idle: dict[uuid.UUID, str] = {}
    names: dict[str, uuid.UUID] = {}
    for act in source.objects.values():
        if act.kind != ACTIVITY.kind:
            continue
        names[act.name] = act.id
        if act.id not in redo:
            kept = previous.activities.get(act.id)
            if kept is not None:
                activities[act.id] = kept
            else:
                idle[act.id] = previous.idle[act.id]
            continue
        compiled = _activity(act, source, offers)
        if isinstance(compiled, str):
            idle[act.id] = compiled
        else:
            activities[act.id] = compiled
    if redo or experiments is not previous.experiments:
        ranking_experiments, variants = _variants(experiments, activities, source.objects)
    else:
        ranking_experiments, variants = list(previous.experiments), dict(previous.variants)
    limit = (source.settings.get("decisioning") or {}).get(
        "max_activities", core.DEFAULT_MAX_ACTIVITIES
    )
    return core.DecisioningIndex(
        activities=MappingProxyType(activities),
        idle=MappingProxyType(idle),
        names=MappingProxyType(names),
        offers=MappingProxyType(offers),
        max_activities=int(limit),
        experiments=tuple(ranking_experiments),
        variants=MappingProxyType(variants),
        source=source,
    )


def _activity(
    act: core.Stored, source: core.Source, offers: Mapping[uuid.UUID, core.OfferDef]
) -> core.ActivityDef | str:
    """One activity compiled, or why it does not take part."""
    by_id = source.objects
    body = act.body
    parts = {
        "activity": act,
        "placement": by_id.get(uuid.UUID(body["placement_id"])),
        "collection": by_id.get(uuid.UUID(body["collection_id"])),
        "fallback offer": by_id.get(uuid.UUID(body["fallback_offer_id"])),
    }
    formula_id = body["ranking"].get("formula_id")
    if formula_id:
        parts["ranking formula"] = by_id.get(uuid.UUID(formula_id))
    waiting = [
        f"its {what} is {'missing' if obj is None else obj.status}"
        if what != "activity"
        else f"it is {act.status}"
        for what, obj in parts.items()
        if obj is None or obj.status != "approved"
    ]
    if waiting:
        return f"activity {act.name!r} does not take part: {'; '.join(waiting)}"
    placement_id = uuid.UUID(body["placement_id"])
    collection = parts["collection"]
    fallback = parts["fallback offer"]
    assert collection is not None
    assert fallback is not None
    members = (offers[i] for i in _members(collection, source.tagged, offers) if i in offers)
    fallback_content = next(
        r["content"]
        for r in fallback.body["representations"]
        if r["placement_id"] == str(placement_id)
    )
    base = core.ActivityDef(
        id=act.id,
        name=act.name,
        placement_id=placement_id,
        start=_when(body.get("start")),
        end=_when(body.get("end")),
        candidates=core.priority_order(o for o in members if placement_id in o.content),
        fallback=core.Fallback(fallback.id, fallback.name, fallback_content),
    )
    ranked = _ranked(base, body["ranking"], by_id)
    assert ranked is not None, "an approved activity's formula is approved"
    return ranked


def _variants(
    experiments: Sequence[ExperimentFacts],
    activities: Mapping[uuid.UUID, core.ActivityDef],
    by_id: Mapping[uuid.UUID, core.Stored],
) -> tuple[list[ExperimentFacts], dict[tuple[str, str, uuid.UUID], core.ActivityDef]]:
    """The experiments whose variants rank decisions, and each variant's version of every
    activity it changes (by experiment, variant and activity)."""
    variants: dict[tuple[str, str, uuid.UUID], core.ActivityDef] = {}
    ranking_experiments = []
    for experiment in experiments:
        changes = {
            v.key: rankings(v.config["decision_ranking"])
            for v in experiment.variants
            if "decision_ranking" in v.config
        }
        if not changes:
            continue
        ranking_experiments.append(experiment)
        for variant, given in changes.items():
            for ranking in given:
                for activity in _targets(ranking.get("activity"), activities):
                    alternative = _ranked(
                        activity, ranking, by_id, f"variant:{experiment.key}/{variant}"
                    )
                    if alternative is not None:
                        variants[(experiment.key, variant, activity.id)] = alternative
    return ranking_experiments, variants


def rankings(config: Any) -> list[dict[str, Any]]:
    """A variant's ``decision_ranking``: one ranking, or a list of them, each for the activity it
    names (by id or name) or for every activity."""
    return [dict(r) for r in (config if isinstance(config, list) else [config])]


def _targets(
    name: str | None, activities: Mapping[uuid.UUID, core.ActivityDef]
) -> list[core.ActivityDef]:
    if name is None:
        return list(activities.values())
    return [a for a in activities.values() if name in (a.key, a.name)]


def _ranked(
    activity: core.ActivityDef,
    ranking: Mapping[str, Any],
    by_id: Mapping[uuid.UUID, Any],
    line: str = "live",
) -> core.ActivityDef | None:
    """The activity ranked as ``ranking`` says (its candidates in the order that gives); None
    when its formula is not an approved ranking formula."""
    method = ranking.get("method", "priority")
    candidates = core.priority_order(activity.candidates)
    if method != "formula":
        model = _model(ranking)
        return replace(
            activity,
            candidates=candidates,
            formula=None,
            formula_name=None,
            scores=None,
            model=model,
            contextual=_contextual(line, ranking, "contextual"),
            shadow=_contextual("shadow", ranking, "shadow"),
        )
    formula = by_id.get(uuid.UUID(str(ranking["formula_id"])))
    if formula is None or formula.kind != FORMULA.kind or formula.status != "approved":
        return None
    compiled = compile_formula(formula.body["expression"])
    scores = None
    if core.static(compiled):
        candidates, scores = core.score_statically(compiled, candidates)
    return replace(
        activity,
        candidates=candidates,
        formula=compiled,
        formula_name=formula.name,
        scores=scores,
        model=None,
        contextual=None,
        shadow=_contextual("shadow", ranking, "shadow"),
    )


async def load_index(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    settings: Mapping[str, Any],
    experiments: Sequence[ExperimentFacts] = (),
) -> core.DecisioningIndex:
    rows = await session.scalars(
        sa.select(DecisioningObject).where(DecisioningObject.tenant_id == tenant_id)
    )
    return compile_index(rows, settings, experiments)
