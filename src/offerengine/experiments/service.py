"""Experiment use cases: configuration, sticky assignment with exposures, and results.

Experiments are a configuration kind (``EXPERIMENT_KIND``): create, update and history are the
generic ones (:mod:`offerengine.versioning.editing`), the key unique per tenant; theirs are the
check (a running experiment's variant keys are fixed) and two actions, start and stop, each a
new version. They are not deleted: a stopped experiment keeps its exposures and results."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.db import paging, upsert
from offerengine.db.base import utcnow
from offerengine.decisioning.schemas import VariantRanking
from offerengine.errors import Conflict, FieldError, Invalid, Loc, raise_if_any
from offerengine.events.models import Event
from offerengine.experiments import core, stats
from offerengine.experiments.assignment import condition_errors
from offerengine.experiments.models import Experiment, Exposure
from offerengine.experiments.schemas import (
    ArmRead,
    ComparisonRead,
    ExperimentCreate,
    ExperimentIn,
    ExperimentRead,
    ExperimentUpdate,
    MetricIn,
    MetricResults,
    ResultsRead,
    SampleRatio,
    StopRequest,
    VerdictRead,
)
from offerengine.pagination import DEFAULT_LIMIT
from offerengine.versioning import service as versioning
from offerengine.versioning.editing import Editing, read_back
from offerengine.versioning.kinds import Action, ConfigKind, PageRequest

_FIELDS = tuple(ExperimentIn.model_fields)


def dump(experiment: Experiment) -> dict[str, Any]:
    return ExperimentRead.of(experiment).model_dump(mode="json")


# What a variant's decision_ranking may say: a ranking, or a list of them.
_RANKING: TypeAdapter[Any] = TypeAdapter(VariantRanking)
_RANKINGS: TypeAdapter[Any] = TypeAdapter(list[VariantRanking])


def check(data: ExperimentIn, loc: Loc = ("body",)) -> list[FieldError]:
    """What the schema cannot see: unique variant keys, a readable condition, a sane window."""
    errors: list[FieldError] = []
    keys = [v.key for v in data.variants]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            errors.append(FieldError((*loc, "variants", i, "key"), f"variant {key!r} is repeated"))
    for i, variant in enumerate(data.variants):
        if "decision_ranking" in variant.config:
            where = (*loc, "variants", i, "config", "decision_ranking")
            given = variant.config["decision_ranking"]
            try:
                (_RANKINGS if isinstance(given, list) else _RANKING).validate_python(given)
            except ValidationError as exc:
                errors += [
                    FieldError((*where, *e["loc"]), e["msg"], e["type"]) for e in exc.errors()
                ]
    if sum(v.weight for v in data.variants) <= 0:
        errors.append(FieldError((*loc, "variants"), "at least one weight must be above zero"))
    if data.targeting is not None:
        errors += [
            FieldError((*loc, "targeting", *where), msg)
            for where, msg in condition_errors(data.targeting)
        ]
    if data.namespace is not None and data.namespace.start >= data.namespace.end:
        errors.append(FieldError((*loc, "namespace", "end"), "must be above start"))
    if data.start and data.end and data.start >= data.end:
        errors.append(FieldError((*loc, "end"), "must be after start"))
    metric_keys = [metric_key(m) for m in (data.primary_metric, *data.secondary_metrics)]
    for i, key in enumerate(metric_keys):
        if key in metric_keys[:i]:
            errors.append(
                FieldError((*loc, "secondary_metrics", i - 1), f"metric {key!r} is repeated")
            )
    return errors


def metric_key(metric: MetricIn | Mapping[str, Any]) -> str:
    if isinstance(metric, MetricIn):
        return metric.key or f"{metric.kind}_{metric.event}"
    return str(metric.get("key") or f"{metric['kind']}_{metric['event']}")


def _values(data: ExperimentIn) -> dict[str, Any]:
    values = data.model_dump(mode="json", include=set(_FIELDS))
    values.update(start=data.start, end=data.end)
    return values


def _apply(experiment: Experiment, data: ExperimentIn) -> None:
    for name, value in _values(data).items():
        setattr(experiment, name, value)


def _same(experiment: Experiment, data: ExperimentIn) -> bool:
    """Whether saving ``data`` would change nothing (times compared as instants)."""
    in_utc = {
        name: None if when is None else when.astimezone(UTC)
        for name, when in (("start", data.start), ("end", data.end))
    }
    wanted = data.model_copy(update=in_utc).model_dump(mode="json", include=set(_FIELDS))
    return ExperimentRead.of(experiment).as_input() == wanted


async def _check(
    session: AsyncSession, tenant_id: uuid.UUID, data: ExperimentIn, current: Experiment | None
) -> None:
    raise_if_any(check(data))
    if current is not None:
        _keep_variant_keys(current, data)


def _keep_variant_keys(experiment: Experiment, data: ExperimentIn) -> None:
    if experiment.status == "draft":
        return
    before = [v["key"] for v in experiment.variants]
    if [v.key for v in data.variants] != before:
        raise Conflict.field(
            ("body", "variants"),
            f"the experiment is {experiment.status}: its variant keys ({', '.join(before)}) "
            "cannot change; weights, coverage and targeting can",
        )


def _revive(experiment: Experiment, state: Mapping[str, Any]) -> None:
    """A deleted experiment recreated by a rollback keeps its recorded status and winner."""
    experiment.status = str(state.get("status", "draft"))
    experiment.winner = state.get("winner")


# Units already exposed keep their variant whatever an update does to the weights.
EDITING: Editing[Experiment, ExperimentIn] = Editing(
    name="experiment",
    what="experiment",
    model=Experiment,
    dump=dump,
    new=lambda tenant_id: Experiment(tenant_id=tenant_id, status="draft"),
    apply=_apply,
    same=_same,
    recorded=read_back(ExperimentRead, ExperimentCreate),
    title=lambda experiment: f"experiment {experiment.key!r}",
    check=_check,
    key=Experiment.key,
    revive=_revive,
)
EXPERIMENT = EDITING.history


async def start(
    session: AsyncSession,
    *,
    obj: Experiment,
    data: None,
    actor: Actor,
    expected_version: int | None,
) -> Experiment:
    """Start assigning units: a draft only, as a stopped experiment's results are final."""
    versioning.check_version(obj, expected_version, EDITING.title(obj))
    if obj.status == "running":
        return obj
    if obj.status == "stopped":
        raise Conflict(
            f"Experiment {obj.key!r} has stopped; its results are final. "
            "Create a new experiment to test again."
        )
    before = dump(obj)
    obj.status = "running"
    obj.started_at = utcnow()
    await versioning.record(
        session, EXPERIMENT, obj, action="status", actor=actor, before=before, detail="started"
    )
    return obj


async def stop(
    session: AsyncSession,
    *,
    obj: Experiment,
    data: StopRequest | None,
    actor: Actor,
    expected_version: int | None,
) -> Experiment:
    """Stop assigning; with a ``winner``, everyone is served that variant from then on."""
    versioning.check_version(obj, expected_version, EDITING.title(obj))
    winner = data.winner if data is not None else None
    keys = [v["key"] for v in obj.variants]
    if winner is not None and winner not in keys:
        raise Invalid.field(("body", "winner"), f"not a variant (variants: {', '.join(keys)})")
    if obj.status == "draft":
        raise Conflict(f"Experiment {obj.key!r} has not started.")
    if obj.status == "stopped" and obj.winner == winner:
        return obj
    before = dump(obj)
    obj.status = "stopped"
    obj.stopped_at = obj.stopped_at or utcnow()
    obj.winner = winner
    detail = f"stopped; winner {winner}" if winner else "stopped"
    await versioning.record(
        session, EXPERIMENT, obj, action="status", actor=actor, before=before, detail=detail
    )
    return obj


async def list_experiments(
    session: AsyncSession, *, tenant_id: uuid.UUID, filters: str | None, page: PageRequest | None
) -> tuple[Sequence[Experiment], str | None]:
    """A page of the tenant's experiments (of one status, if ``filters`` names one), oldest
    first, and the next page's cursor."""
    page = page or PageRequest(DEFAULT_LIMIT)
    order = (Experiment.created_at, Experiment.id)
    return await paging.keyset_page(
        session, _experiments(sa.select(Experiment), tenant_id, filters), order,
        limit=page.limit, cursor=page.cursor,
    )  # fmt: skip


async def count_experiments(
    session: AsyncSession, *, tenant_id: uuid.UUID, filters: str | None
) -> int:
    """How many experiments :func:`list_experiments` finds, all pages together."""
    stmt = _experiments(sa.select(sa.func.count()).select_from(Experiment), tenant_id, filters)
    return int(await session.scalar(stmt) or 0)


def _experiments(stmt: Any, tenant_id: uuid.UUID, status: str | None) -> Any:
    stmt = stmt.where(Experiment.tenant_id == tenant_id)
    return stmt.where(Experiment.status == status) if status else stmt


# Experiments as a configuration kind: the standard routes at /v1/admin/…/experiments, without
# DELETE (an experiment is stopped, and its exposures and results stay), with start and stop.
EXPERIMENT_KIND: ConfigKind[Experiment] = ConfigKind(
    history=EXPERIMENT,
    what="experiment",
    path="experiments",
    operation="Experiment",
    create_schema=ExperimentCreate,
    update_schema=ExperimentUpdate,
    read_schema=ExperimentRead,
    read=ExperimentRead.of,
    create=EDITING.create,
    update=EDITING.update,
    delete=None,
    list=list_experiments,
    count=count_experiments,
    actions=(
        Action(
            "start",
            start,
            description="Start assigning units (a draft only: a stopped experiment's results "
            "are final).",
        ),
        Action(
            "stop",
            stop,
            body=StopRequest,
            description="Stop assigning; with a `winner`, everyone is served that variant from "
            "now on.",
        ),
    ),
)


# --- run time ----------------------------------------------------------------------------------


def facts(experiment: Experiment) -> core.ExperimentFacts:
    """An experiment compiled for the snapshot."""
    ns = experiment.namespace
    return core.ExperimentFacts.make(
        id=experiment.id,
        key=experiment.key,
        unit=experiment.unit,
        status=experiment.status,
        variants=tuple(
            core.VariantFacts(v["key"], float(v.get("weight", 1.0)), v.get("config") or {})
            for v in experiment.variants
        ),
        coverage=experiment.coverage,
        targeting=experiment.targeting or None,
        namespace=(ns["name"], float(ns["start"]), float(ns["end"])) if ns else None,
        seed=experiment.seed or experiment.key,
        hash_version=experiment.hash_version,
        start=experiment.start,
        end=experiment.end,
        winner=experiment.winner,
        version=experiment.version,
    )


async def load_index(session: AsyncSession, tenant_id: uuid.UUID) -> core.ExperimentIndex:
    rows = await session.scalars(sa.select(Experiment).where(Experiment.tenant_id == tenant_id))
    return core.ExperimentIndex.build([facts(e) for e in rows])


async def expose(
    session: AsyncSession, *, tenant_id: uuid.UUID, assignment: core.Assignment, at: datetime
) -> tuple[core.VariantFacts, bool]:
    """Record the unit's first exposure, once; return the variant it keeps and whether it was
    recorded before (sticky: a later change of weights does not move an exposed unit)."""
    experiment = assignment.experiment
    stmt = (
        upsert.insert(session, Exposure)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            experiment_id=experiment.id,
            unit_id=assignment.hash_value,
            variant=assignment.variant.key,
            bucket=assignment.bucket,
            exposed_at=at,
        )
        .on_conflict_do_nothing(index_elements=["experiment_id", "unit_id"])
        .returning(Exposure.variant)
    )
    if (await session.execute(stmt)).first() is not None:
        return assignment.variant, False
    kept = await session.scalar(
        sa.select(Exposure.variant).where(
            Exposure.experiment_id == experiment.id, Exposure.unit_id == assignment.hash_value
        )
    )
    variant = experiment.variant(kept) if kept else None
    return (variant, True) if variant is not None else (assignment.variant, False)


# --- results -----------------------------------------------------------------------------------


async def _arms(
    session: AsyncSession, experiment: Experiment, metric: Mapping[str, Any]
) -> dict[str, stats.Arm]:
    """Per variant: units, and the sum and sum of squares of each unit's metric value."""
    unit_column = getattr(Event, experiment.unit)
    window = [
        Event.tenant_id == experiment.tenant_id,
        Event.type == metric["event"],
        unit_column == Exposure.unit_id,
        Event.occurred_at >= Exposure.exposed_at,
    ]
    if experiment.stopped_at is not None:
        window.append(Event.occurred_at <= experiment.stopped_at)
    kind = metric["kind"]
    if kind == "revenue":
        measure: Any = sa.func.coalesce(sa.func.sum(Event.value), 0)
    elif kind == "count":
        measure = sa.func.count(Event.id)
    else:
        measure = sa.case((sa.func.count(Event.id) > 0, 1), else_=0)
    per_unit = (
        sa.select(Exposure.variant.label("variant"), measure.label("v"))
        .select_from(Exposure)
        .outerjoin(Event, sa.and_(*window))
        .where(Exposure.experiment_id == experiment.id)
        .group_by(Exposure.id, Exposure.variant)
        .subquery()
    )
    rows = await session.execute(
        sa.select(
            per_unit.c.variant,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(per_unit.c.v), 0),
            sa.func.coalesce(sa.func.sum(per_unit.c.v * per_unit.c.v), 0),
        ).group_by(per_unit.c.variant)
    )
    found = {row[0]: stats.Arm(row[0], int(row[1]), float(row[2]), float(row[3])) for row in rows}
    return {
        v["key"]: found.get(v["key"], stats.Arm(v["key"], 0, 0.0, 0.0)) for v in experiment.variants
    }


def _arm_read(kind: str, arm: stats.Arm) -> ArmRead:
    conversions = int(arm.total) if kind == "conversion" else None
    return ArmRead(
        variant=arm.key,
        units=arm.units,
        conversions=conversions,
        rate=arm.mean if kind == "conversion" else None,
        total=arm.total,
        mean=arm.mean,
        variance=arm.variance if kind != "conversion" else arm.mean * (1 - arm.mean),
    )


async def _metric_results(
    session: AsyncSession, experiment: Experiment, metric: Mapping[str, Any]
) -> tuple[MetricResults, list[stats.Comparison], dict[str, stats.Arm]]:
    arms = await _arms(session, experiment, metric)
    kind = metric["kind"]
    control, *treatments = arms.values()
    comparisons = [stats.compare(kind, control, t) for t in treatments]
    return (
        MetricResults(
            key=metric_key(metric),
            kind=kind,
            event=metric["event"],
            variants=[_arm_read(kind, a) for a in arms.values()],
            comparisons=[
                ComparisonRead.model_validate(c, from_attributes=True) for c in comparisons
            ],
        ),
        comparisons,
        arms,
    )


async def results(session: AsyncSession, *, experiment: Experiment) -> ResultsRead:
    """Every metric per variant against control, the sample-ratio check and a verdict."""
    primary, comparisons, arms = await _metric_results(
        session, experiment, experiment.primary_metric
    )
    secondary = [
        (await _metric_results(session, experiment, m))[0] for m in experiment.secondary_metrics
    ]
    units = [a.units for a in arms.values()]
    weights = [float(v.get("weight", 1.0)) for v in experiment.variants]
    total_weight = sum(weights) or 1.0
    srm = stats.sample_ratio_p_value(units, weights)
    control = experiment.variants[0]["key"]
    decided = stats.verdict(
        comparisons,
        control=control,
        srm_p_value=srm,
        minimum_effect=experiment.minimum_effect,
        smallest_arm=min(units) if units else 0,
    )
    return ResultsRead(
        experiment_id=experiment.id,
        key=experiment.key,
        status=experiment.status,
        control=control,
        computed_at=utcnow(),
        sample_ratio=SampleRatio(
            p_value=srm,
            warning=srm is not None and srm < stats.SRM_THRESHOLD,
            expected_shares=[w / total_weight for w in weights],
            observed_units=units,
        ),
        primary=primary,
        secondary=secondary,
        verdict=VerdictRead.model_validate(decided, from_attributes=True),
    )
