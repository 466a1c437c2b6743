"""What decisioning did, for people (the admin UI's dashboard and playgrounds): the tenant's
activities by name, the usage of every global cap, decisions per day and the counters of every
offer at every placement. Each read takes a session of its own from the app context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from offerengine.clock import start_of_day, utcnow
from offerengine.context import AppContext
from offerengine.db.session import Sessions
from offerengine.decisioning import core as decisioning_core
from offerengine.decisioning import counting
from offerengine.decisioning.models import Decision, DecisioningObject, DecisionStat


async def activity_names(
    sessions: Sessions, tenant_id: uuid.UUID, *, approved: bool = False
) -> list[tuple[str, str]]:
    """The tenant's activities (id as text, name) by name; only approved ones if asked."""
    stmt = sa.select(DecisioningObject.id, DecisioningObject.name).where(
        DecisioningObject.tenant_id == tenant_id, DecisioningObject.kind == "activity"
    )
    if approved:
        stmt = stmt.where(DecisioningObject.status == "approved")
    async with sessions.session_factory() as session:
        rows = await session.execute(stmt.order_by(DecisioningObject.name))
        return [(str(i), n) for i, n in rows]


@dataclass(frozen=True, slots=True)
class CapUse:
    """A global cap of an offer and how much of its current window is used."""

    offer: str
    cap: decisioning_core.Cap
    used: int


async def cap_usage(ctx: AppContext, tenant_id: uuid.UUID) -> list[CapUse]:
    """Every global cap of the tenant's offers (by offer name), read without counting. Caps per
    profile are counted per person: there is no one figure for them."""
    snapshot = await ctx.snapshots.get(tenant_id)
    now = utcnow()
    found = []
    for offer in sorted(snapshot.decisioning.offers.values(), key=lambda o: o.name):
        for cap in offer.caps:
            if cap.scope == "global":
                used = await counting.global_usage(ctx, tenant_id, offer, cap, now)
                found.append(CapUse(offer.name, cap, used))
    return found


@dataclass(frozen=True, slots=True)
class DecisionFigures:
    per_day: Sequence[tuple[Any, int]]  # day (a date, or its text on SQLite), decisions made
    names: dict[uuid.UUID, str]  # every decisioning object's name, by id
    # offer id, placement (an id as text, or a name), impressions, clicks, accepts
    stats: Sequence[tuple[uuid.UUID, str, int, int, int]]


async def decision_figures(
    sessions: Sessions, tenant_id: uuid.UUID, first_day: date, last_day: date | None = None
) -> DecisionFigures:
    """Decisions made per day from ``first_day`` to ``last_day`` (UTC days, both included; no
    end when ``None``), counted by the database, and the counters of every offer at every
    placement."""
    day = sa.func.date(Decision.made_at)
    per_day_stmt = (
        sa.select(day, sa.func.count())
        .where(Decision.tenant_id == tenant_id, Decision.made_at >= start_of_day(first_day))
        .group_by(day)
    )
    if last_day is not None:
        per_day_stmt = per_day_stmt.where(
            Decision.made_at < start_of_day(last_day + timedelta(days=1))
        )
    async with sessions.session_factory() as session:
        per_day = await session.execute(per_day_stmt)
        names = await session.execute(
            sa.select(DecisioningObject.id, DecisioningObject.name).where(
                DecisioningObject.tenant_id == tenant_id
            )
        )
        stats = await session.execute(
            sa.select(
                DecisionStat.offer_id,
                DecisionStat.placement_id,
                DecisionStat.impressions,
                DecisionStat.clicks,
                DecisionStat.accepts,
            ).where(DecisionStat.tenant_id == tenant_id)
        )
        return DecisionFigures(per_day.all(), dict(names.all()), stats.all())
