"""The contextual bandits' model versions, as the admin API uses them: list, inspect, restore,
train now, and the report judging each line on the logs. The router only parses and encodes; the
queries are :mod:`offerengine.learning.store`'s. The unit of work (``offerengine.deps.DbSession``)
commits."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Principal
from offerengine.context import AppContext
from offerengine.db.base import utcnow
from offerengine.db.session import release
from offerengine.errors import NotFound
from offerengine.learning import evaluate, store
from offerengine.learning.models import LearningModel
from offerengine.snapshots.core import Snapshot


async def find(session: AsyncSession, principal: Principal, model_id: uuid.UUID) -> LearningModel:
    """A model version the caller sees; 404 when it does not exist *or* is another tenant's."""
    found = await session.get(LearningModel, model_id)
    if found is None or not principal.sees_tenant(found.tenant_id):
        raise NotFound(f"No model version {model_id}.")
    return found


async def list_versions(
    session: AsyncSession, tenant_id: uuid.UUID, activity_id: uuid.UUID | None
) -> list[dict[str, Any]]:
    """Every version of the tenant's bandits (of one activity, if given), as the API shows them."""
    return [store.summary(r) for r in await store.versions(session, tenant_id, activity_id)]


async def get_version(
    session: AsyncSession, principal: Principal, model_id: uuid.UUID
) -> dict[str, Any]:
    """One version the caller sees, as the API shows it."""
    return store.summary(await find(session, principal, model_id))


async def restore(
    session: AsyncSession, ctx: AppContext, principal: Principal, model_id: uuid.UUID
) -> dict[str, Any]:
    """Serve what a version learnt again: a new active version of its line (see
    :func:`offerengine.learning.store.restore`); this worker's models of the tenant are reloaded."""
    old = await find(session, principal, model_id)
    await release(session)  # no connection held while the snapshot may be rebuilt
    snapshot = await ctx.snapshots.get(old.tenant_id)
    row = await store.restore(session, old.tenant_id, snapshot, model_id)
    summary = store.summary(row)
    ctx.models.forget(old.tenant_id)
    return summary


async def train(
    session: AsyncSession, ctx: AppContext, tenant_id: uuid.UUID
) -> list[dict[str, Any]]:
    """A training round now, for every bandit of the tenant (see
    :func:`offerengine.learning.store.train`); this worker's models of the tenant are reloaded."""
    await release(session)  # no connection held while the snapshot may be rebuilt
    snapshot = await ctx.snapshots.get(tenant_id)
    rounds = await store.train(session, tenant_id, snapshot, now=utcnow())
    ctx.models.forget(tenant_id)
    return [asdict(r) for r in rounds]


async def report(
    session: AsyncSession,
    ctx: AppContext,
    tenant_id: uuid.UUID,
    activity_id: uuid.UUID | None,
    *,
    since: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Each bandit line of the tenant (of one activity, if given), judged on its logs."""
    await release(session)  # no connection held while the snapshot may be rebuilt
    snapshot = await ctx.snapshots.get(tenant_id)
    return await report_lines(session, tenant_id, snapshot, activity_id, since=since, limit=limit)


async def report_lines(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    snapshot: Snapshot,
    activity_id: uuid.UUID | None,
    *,
    since: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Per line: its offline value estimates beside what was served (up to ``limit`` proposals
    from ``since`` whose reward window has closed), and for a shadow its agreement with the live
    ranking."""
    found = []
    now = utcnow()
    for activity, spec in store.lines(snapshot):
        if activity_id is not None and activity.id != activity_id:
            continue
        row = await store.active(session, tenant_id, activity.id, spec.line)
        model = store.model_of(row, spec)
        # Rewards as the live ranking counts them, the shadow's when the activity has no bandit.
        judge = activity.contextual or spec
        rows = await store.logged(
            session, tenant_id, activity, judge, now=now, since=since, limit=limit
        )
        policy = evaluate.of_bandit(f"{spec.line} v{row.version if row else 0}", spec, model)
        found.append(
            {
                "activity_id": activity.id,
                "activity": activity.name,
                "line": spec.line,
                "version": row.version if row is not None else None,
                "agreement": evaluate.agreement(rows) if spec.line == "shadow" else None,
                "evaluation": evaluate.evaluate(rows, activity, policy),
            }
        )
    return found
