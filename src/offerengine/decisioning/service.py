"""Decisioning configuration: six versioned kinds in one table, their references checked when
saved, and compiled into the snapshot's :class:`core.DecisioningIndex`."""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import partial
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from pydantic import create_model
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.db import unique
from offerengine.decisioning import core
from offerengine.decisioning import schemas as s
from offerengine.decisioning.models import DecisioningObject
from offerengine.errors import Conflict, FieldError, raise_if_any
from offerengine.experiments.core import ExperimentFacts
from offerengine.learning.policy import ContextualDef
from offerengine.rules import core as rules
from offerengine.rules.types import NUMBER
from offerengine.rules.vocabulary import DECISIONING
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning
from offerengine.versioning.kinds import ConfigKind, PageRequest

BODY = ("body",)


@dataclass(frozen=True)
class Spec:
    """One kind of decisioning object: its name, API path, schemas and history."""

    kind: str
    path: str
    what: str
    schema_in: type[s.Named]
    schema_read: type[s.Stored]
    history_name: str  # object_type in history and the audit log

    def read(self, obj: DecisioningObject) -> s.Stored:
        return self.schema_read.model_validate(
            {
                **obj.body,
                "name": obj.name,
                "status": obj.status,
                "id": obj.id,
                "tenant_id": obj.tenant_id,
                "version": obj.version,
                "created_at": obj.created_at,
                "updated_at": obj.updated_at,
            }
        )

    def as_input(self, obj: DecisioningObject) -> s.Named:
        return self.schema_in.model_validate({**obj.body, "name": obj.name, "status": obj.status})

    @property
    def history(self) -> versioning.Kind[DecisioningObject]:
        return HISTORIES[self.kind]


PLACEMENT = Spec(
    "placement", "placements", "placement", s.PlacementIn, s.PlacementRead, "placement"
)
OFFER = Spec("offer", "offers", "offer", s.OfferIn, s.OfferRead, "decision_offer")
FALLBACK = Spec(
    "fallback_offer",
    "fallback-offers",
    "fallback offer",
    s.FallbackOfferIn,
    s.FallbackOfferRead,
    "fallback_offer",
)
COLLECTION = Spec(
    "collection", "collections", "collection", s.CollectionIn, s.CollectionRead, "offer_collection"
)
FORMULA = Spec(
    "ranking_formula",
    "ranking-formulas",
    "ranking formula",
    s.RankingFormulaIn,
    s.RankingFormulaRead,
    "ranking_formula",
)
ACTIVITY = Spec("activity", "activities", "activity", s.ActivityIn, s.ActivityRead, "activity")
SPECS: Mapping[str, Spec] = MappingProxyType(
    {spec.kind: spec for spec in (PLACEMENT, OFFER, FALLBACK, COLLECTION, FORMULA, ACTIVITY)}
)


def _apply(obj: DecisioningObject, spec: Spec, data: s.Named) -> None:
    values = data.model_dump(mode="json")
    obj.kind = spec.kind
    obj.name = values.pop("name")
    obj.status = values.pop("status")
    obj.body = values


async def _kinds_of(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, DecisioningObject]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.scalars(
        sa.select(DecisioningObject).where(
            DecisioningObject.tenant_id == tenant_id, DecisioningObject.id.in_(wanted)
        )
    )
    return {row.id: row for row in rows}


def _rule_errors(compile_: Any, loc: tuple[str | int, ...]) -> list[FieldError]:
    try:
        compile_()
    except rules.RuleError as exc:
        return [e.under(loc) for e in exc.errors]
    return []


def compile_eligibility(rule: Any) -> rules.Compiled | None:
    if rule is None or rule == "" or rule == {}:
        return None
    return rules.compile_condition(rule, DECISIONING)


def compile_formula(expression: str) -> rules.Compiled:
    return rules.compile_expression(expression, DECISIONING, expect=NUMBER)


async def _check(session: AsyncSession, tenant_id: uuid.UUID, spec: Spec, data: s.Named) -> None:
    """Every reference names an object of the right kind of this tenant; every rule compiles."""
    refs: list[tuple[tuple[str | int, ...], uuid.UUID, str]] = []
    errors: list[FieldError] = []
    if isinstance(data, s.OfferIn | s.FallbackOfferIn):
        refs += [
            (("representations", i, "placement_id"), rep.placement_id, "placement")
            for i, rep in enumerate(data.representations)
        ]
    if isinstance(data, s.OfferIn):
        errors += _rule_errors(
            lambda: compile_eligibility(data.eligibility), (*BODY, "eligibility")
        )
    if isinstance(data, s.CollectionIn):
        refs += [(("offer_ids", i), oid, "offer") for i, oid in enumerate(data.offer_ids or ())]
    if isinstance(data, s.RankingFormulaIn):
        errors += _rule_errors(lambda: compile_formula(data.expression), (*BODY, "expression"))
    if isinstance(data, s.ActivityIn):
        refs += [
            (("placement_id",), data.placement_id, "placement"),
            (("collection_id",), data.collection_id, "collection"),
            (("fallback_offer_id",), data.fallback_offer_id, "fallback_offer"),
        ]
        if data.ranking.formula_id is not None:
            refs.append((("ranking", "formula_id"), data.ranking.formula_id, "ranking_formula"))
    found = await _kinds_of(session, tenant_id, (ref for _, ref, _ in refs))
    for loc, ref, kind in refs:
        obj = found.get(ref)
        if obj is None or obj.kind != kind:
            errors.append(FieldError((*BODY, *loc), f"no {SPECS[kind].what} {ref}"))
    if isinstance(data, s.ActivityIn):
        fallback = found.get(data.fallback_offer_id)
        if fallback is not None and fallback.kind == FALLBACK.kind:
            placements = {r["placement_id"] for r in fallback.body["representations"]}
            if str(data.placement_id) not in placements:
                errors.append(
                    FieldError(
                        (*BODY, "fallback_offer_id"),
                        f"fallback offer {fallback.name!r} has no representation for the "
                        "activity's placement",
                    )
                )
    raise_if_any(errors)


async def _unique_name(
    session: AsyncSession, spec: Spec, tenant_id: uuid.UUID, name: str, exclude: uuid.UUID | None
) -> None:
    await unique.ensure_unused(
        session,
        DecisioningObject.name,
        name,
        tenant_id=tenant_id,
        exclude=exclude,
        what=spec.what,
        where=(DecisioningObject.kind == spec.kind,),
    )


def dump(obj: DecisioningObject) -> dict[str, Any]:
    return SPECS[obj.kind].read(obj).model_dump(mode="json")


def _restorer(spec: Spec) -> Any:
    async def restore(
        session: AsyncSession,
        obj: DecisioningObject | None,
        data: Mapping[str, Any],
        tenant_id: uuid.UUID,
    ) -> DecisioningObject:
        recorded = spec.schema_in.model_validate(
            {k: v for k, v in data.items() if k in spec.schema_in.model_fields}
        )
        exclude = obj.id if obj is not None else uuid.UUID(str(data["id"]))
        await _unique_name(session, spec, tenant_id, recorded.name, exclude)
        await _check(session, tenant_id, spec, recorded)
        target = obj if obj is not None else DecisioningObject(tenant_id=tenant_id)
        _apply(target, spec, recorded)
        return target

    return restore


HISTORIES: Mapping[str, versioning.Kind[DecisioningObject]] = MappingProxyType(
    {
        spec.kind: versioning.Kind(
            name=spec.history_name,
            model=DecisioningObject,
            dump=dump,
            restore=_restorer(spec),
        )
        for spec in SPECS.values()
    }
)


async def create(
    session: AsyncSession, *, spec: Spec, tenant_id: uuid.UUID, data: s.Named, actor: Actor
) -> DecisioningObject:
    await _unique_name(session, spec, tenant_id, data.name, None)
    await _check(session, tenant_id, spec, data)
    obj = DecisioningObject(tenant_id=tenant_id)
    _apply(obj, spec, data)
    session.add(obj)
    await versioning.record(session, spec.history, obj, action="create", actor=actor, before=None)
    return obj


async def update(
    session: AsyncSession,
    *,
    spec: Spec,
    obj: DecisioningObject,
    data: s.Named,
    actor: Actor,
    expected_version: int | None,
) -> DecisioningObject:
    versioning.check_version(obj, expected_version, f"{spec.what} {obj.name!r}")
    current = spec.as_input(obj)
    fresh = spec.schema_in.model_validate(data.model_dump(include=set(spec.schema_in.model_fields)))
    if current == fresh:
        return obj
    if fresh.name != obj.name:
        await _unique_name(session, spec, obj.tenant_id, fresh.name, obj.id)
    await _check(session, obj.tenant_id, spec, fresh)
    before = dump(obj)
    _apply(obj, spec, fresh)
    await versioning.record(session, spec.history, obj, action="update", actor=actor, before=before)
    return obj


async def delete(
    session: AsyncSession,
    *,
    spec: Spec,
    obj: DecisioningObject,
    actor: Actor,
    expected_version: int | None,
) -> None:
    versioning.check_version(obj, expected_version, f"{spec.what} {obj.name!r}")
    users = [
        other
        for other in await session.scalars(
            sa.select(DecisioningObject).where(
                DecisioningObject.tenant_id == obj.tenant_id, DecisioningObject.id != obj.id
            )
        )
        if str(obj.id) in _references(other)
    ]
    if users:
        named = ", ".join(f"{SPECS[u.kind].what} {u.name!r}" for u in users[:5])
        raise Conflict(
            f"{spec.what} {obj.name!r} is used by {named}; change those first, or archive it"
        )
    await versioning.delete(session, spec.history, obj, actor=actor)


def _references(obj: DecisioningObject) -> set[str]:
    body = obj.body
    refs = {r["placement_id"] for r in body.get("representations", ())}
    refs.update(body.get("offer_ids") or ())
    for key in ("placement_id", "collection_id", "fallback_offer_id"):
        if key in body:
            refs.add(body[key])
    formula = (body.get("ranking") or {}).get("formula_id")
    if formula:
        refs.add(formula)
    return refs


async def list_objects(
    session: AsyncSession, *, spec: Spec, tenant_id: uuid.UUID, status: str | None
) -> Sequence[DecisioningObject]:
    stmt = sa.select(DecisioningObject).where(
        DecisioningObject.tenant_id == tenant_id, DecisioningObject.kind == spec.kind
    )
    if status is not None:
        stmt = stmt.where(DecisioningObject.status == status)
    return (await session.scalars(stmt.order_by(DecisioningObject.name))).all()


def _declare(spec: Spec) -> ConfigKind[DecisioningObject]:
    """``spec`` as a configuration kind (:mod:`offerengine.versioning.kinds`): its routes are
    ``/v1/admin/…/decisioning/{spec.path}``, its list filtered by status, all at once."""
    title = "".join(part.capitalize() for part in spec.kind.split("_"))

    async def find(session: AsyncSession, id: uuid.UUID) -> DecisioningObject | None:
        found = await session.get(DecisioningObject, id)
        return found if found is not None and found.kind == spec.kind else None

    async def create_one(
        session: AsyncSession, *, tenant: Tenant, data: s.Named, actor: Actor
    ) -> DecisioningObject:
        return await create(session, spec=spec, tenant_id=tenant.id, data=data, actor=actor)

    async def list_all(
        session: AsyncSession,
        *,
        tenant_id: uuid.UUID,
        filters: str | None,
        page: PageRequest | None,
    ) -> tuple[Sequence[DecisioningObject], str | None]:
        return await list_objects(session, spec=spec, tenant_id=tenant_id, status=filters), None

    return ConfigKind(
        history=spec.history,
        what=spec.what,
        path=f"decisioning/{spec.path}",
        operation=f"Decisioning{title}",
        create_schema=spec.schema_in,
        update_schema=create_model(
            f"{title}Update", __base__=spec.schema_in, version=(int | None, None)
        ),
        read_schema=spec.schema_read,
        read=spec.read,
        create=create_one,
        update=partial(update, spec=spec),
        delete=partial(delete, spec=spec),
        list=list_all,
        paged=False,
        find=find,
    )


# The six kinds, as the generic configuration routes take them.
KINDS: Mapping[str, ConfigKind[DecisioningObject]] = MappingProxyType(
    {spec.kind: _declare(spec) for spec in SPECS.values()}
)


# --- the snapshot ---------------------------------------------------------------------------------


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
