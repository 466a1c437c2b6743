"""What a batch run is given: the :class:`Plan` every ranking worker needs — the tenant's
configuration as rows, the feedback counts, the activities and the clock, picklable so that it
ships to Dask workers, which have no database — and the progress callback.

Separate from ranking because it is made once, here, from the database, while ranking runs
wherever the plan is sent; the index compiled from it is cached per process.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.decisioning import compiling as configuration
from offerengine.decisioning import core, learning
from offerengine.decisioning.models import DecisioningObject
from offerengine.errors import Invalid


class Progress(Protocol):
    def __call__(self, phase: str, done: int, total: int) -> None: ...


def quiet(phase: str, done: int, total: int) -> None:
    """Progress reported to no one."""


@dataclass(frozen=True)
class Plan:
    """The tenant's decisioning configuration as rows, the feedback counts, the activities and
    the batch's clock: everything a worker needs to rank, without a database."""

    key: str
    settings: Mapping[str, Any]
    objects: Sequence[Mapping[str, Any]]
    stats: Mapping[tuple[uuid.UUID, str], learning.Counts]
    activities: Sequence[uuid.UUID]
    now: datetime
    depth: int  # uncapped candidates to keep per list: enough for every activity's items
    seed: int | None = None


_compiled: dict[str, tuple[core.DecisioningIndex, learning.Estimates]] = {}


def compiled(plan: Plan) -> tuple[core.DecisioningIndex, learning.Estimates]:
    """The plan's index, compiled once per process."""
    found = _compiled.get(plan.key)
    if found is None:
        objects = [DecisioningObject(**row) for row in plan.objects]
        found = (
            configuration.compile_index(objects, plan.settings),
            learning.Estimates.of(plan.stats),
        )
        _compiled.clear()
        _compiled[plan.key] = found
    return found


async def make_plan(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    settings: Mapping[str, Any],
    activities: Sequence[str],
    now: datetime,
    count: int,
    seed: int | None,
) -> tuple[Plan, core.DecisioningIndex]:
    """The plan for the named activities, and the index compiled from it (cached for ranking in
    this process)."""
    rows = (
        await session.scalars(
            sa.select(DecisioningObject).where(DecisioningObject.tenant_id == tenant_id)
        )
    ).all()
    objects = [
        {
            "id": o.id,
            "tenant_id": o.tenant_id,
            "kind": o.kind,
            "name": o.name,
            "status": o.status,
            "body": o.body,
            "version": o.version,
        }
        for o in rows
    ]
    index = configuration.compile_index([DecisioningObject(**row) for row in objects], settings)
    ids = resolve_activities(index, activities)
    stats: dict[tuple[uuid.UUID, str], learning.Counts] = {}
    if any(index.activities[a].model is not None for a in ids):
        stats = await learning.read_counts(session, tenant_id)
    plan = Plan(
        key=uuid.uuid4().hex,
        settings=dict(settings),
        objects=objects,
        stats=stats,
        activities=ids,
        now=now,
        depth=count * len(ids),
        seed=seed,
    )
    _compiled.clear()  # ranked in this process, the index just compiled serves
    _compiled[plan.key] = (index, learning.Estimates.of(stats))
    return plan, index


def resolve_activities(index: core.DecisioningIndex, named: Sequence[str]) -> list[uuid.UUID]:
    """Activities by id or name; one that does not take part is an error saying why."""
    found: list[uuid.UUID] = []
    by_name = {a.name: a.id for a in index.activities.values()}
    for name in named:
        try:
            activity_id: uuid.UUID | None = uuid.UUID(name)
        except ValueError:
            activity_id = by_name.get(name)
        if activity_id is None or activity_id not in index.activities:
            why = index.idle.get(activity_id) if activity_id else None
            raise Invalid(why or f"no approved activity {name!r}")
        if activity_id in found:
            raise Invalid(f"activity {name!r} is named twice")
        if index.activities[activity_id].contextual is not None:
            # A bandit learns from each decision's feedback and logs its propensities per
            # request; a batch ranks whole columns at once and would learn nothing from them.
            raise Invalid(
                f"activity {name!r} ranks by a contextual bandit: decide its profiles through "
                "POST /v1/decisions, which logs what the bandit learns from"
            )
        found.append(activity_id)
    return found
