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
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.decisioning import core
from offerengine.decisioning.models import DecisioningObject
from offerengine.decisioning.service import (
    ACTIVITY,
    FORMULA,
    OFFER,
    SPECS,
    compile_eligibility,
    compile_formula,
)
from offerengine.experiments.core import ExperimentFacts
from offerengine.learning.policy import ContextualDef


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _offer(obj: DecisioningObject) -> core.OfferDef:
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
        eligibility=compile_eligibility(body.get("eligibility")),
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


def _members(collection: DecisioningObject, offers: Sequence[DecisioningObject]) -> list[uuid.UUID]:
    body = collection.body
    if body.get("offer_ids") is not None:
        return [uuid.UUID(i) for i in body["offer_ids"]]
    wanted = set(body["tags"])
    test = wanted.issubset if body.get("match") == "all" else wanted.intersection
    return [o.id for o in offers if test(o.body.get("tags", ()))]


def compile_index(
    objects: Iterable[DecisioningObject],
    settings: Mapping[str, Any],
    experiments: Sequence[ExperimentFacts] = (),
) -> core.DecisioningIndex:
    """The tenant's approved activities, each with its candidates compiled and in the order its
    ranking gives when known in advance; and, for experiments whose variants rank decisions
    (``decision_ranking``), each variant's version of the activities it changes."""
    by_kind: dict[str, list[DecisioningObject]] = {spec: [] for spec in SPECS}
    by_id: dict[uuid.UUID, DecisioningObject] = {}
    for obj in objects:
        by_kind[obj.kind].append(obj)
        by_id[obj.id] = obj
    approved_offers = [o for o in by_kind[OFFER.kind] if o.status == "approved"]
    offers = {o.id: _offer(o) for o in approved_offers}
    activities: dict[uuid.UUID, core.ActivityDef] = {}
    idle: dict[uuid.UUID, str] = {}
    names = {act.name: act.id for act in by_kind[ACTIVITY.kind]}
    for act in by_kind[ACTIVITY.kind]:
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
            idle[act.id] = f"activity {act.name!r} does not take part: {'; '.join(waiting)}"
            continue
        placement_id = uuid.UUID(body["placement_id"])
        collection = parts["collection"]
        fallback = parts["fallback offer"]
        assert collection is not None
        assert fallback is not None
        members = (offers[i] for i in _members(collection, approved_offers) if i in offers)
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
        activities[act.id] = ranked
    ranking_experiments, variants = _variants(experiments, activities, by_id)
    limit = (settings.get("decisioning") or {}).get("max_activities", core.DEFAULT_MAX_ACTIVITIES)
    return core.DecisioningIndex(
        activities=MappingProxyType(activities),
        idle=MappingProxyType(idle),
        names=MappingProxyType(names),
        offers=MappingProxyType(offers),
        max_activities=int(limit),
        experiments=tuple(ranking_experiments),
        variants=MappingProxyType(variants),
    )


def _variants(
    experiments: Sequence[ExperimentFacts],
    activities: Mapping[uuid.UUID, core.ActivityDef],
    by_id: Mapping[uuid.UUID, DecisioningObject],
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
