"""The admin pages' reads over objects whose packages have no such read of their own yet, each in
a session of its own from the app context: pricing rules (they belong to ``pricing``), decisioning
objects, their counters and the usage of their caps (``decisioning``), object versions and the
audit log (``versioning``), and the daily figures of offers shown and ordered (``shopping`` and
``orders``). They will move to those packages; until then this is the one web module that
queries. Nothing here shapes what a page shows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from offerengine.context import AppContext
from offerengine.db.base import utcnow
from offerengine.db.session import Sessions
from offerengine.decisioning import core as decisioning_core
from offerengine.decisioning import counting
from offerengine.decisioning.models import Decision, DecisioningObject, DecisionStat
from offerengine.orders.models import Order
from offerengine.pricing import service as pricing
from offerengine.pricing.models import PricingRule
from offerengine.shopping.models import OfferDay, OfferStat
from offerengine.versioning import service as versioning
from offerengine.versioning.models import AuditEntry, ObjectVersion


def _start_of(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time()).replace(tzinfo=utcnow().tzinfo)


# ---- pricing ----


async def pricing_rules(
    sessions: Sessions, *, tenant_id: uuid.UUID, q: str | None, limit: int, cursor: str | None
) -> tuple[Sequence[PricingRule], str | None]:
    """A page of the tenant's pricing rules in the order they apply, their names matching ``q``."""
    async with sessions.session_factory() as session:
        return await pricing.list_rules(
            session,
            tenant_id=tenant_id,
            where=pricing.RuleFilter(q=q),
            limit=limit,
            cursor=cursor,
        )


async def pricing_rule(
    sessions: Sessions, *, tenant_id: uuid.UUID, rule_id: uuid.UUID
) -> PricingRule | None:
    """One of the tenant's pricing rules, or None."""
    async with sessions.session_factory() as session:
        return await session.scalar(
            sa.select(PricingRule).where(
                PricingRule.id == rule_id, PricingRule.tenant_id == tenant_id
            )
        )


# ---- decisioning ----


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
    sessions: Sessions, tenant_id: uuid.UUID, first_day: date
) -> DecisionFigures:
    """Decisions made per day since ``first_day`` (UTC), and the counters of every offer at
    every placement."""
    day = sa.func.date(Decision.made_at)
    async with sessions.session_factory() as session:
        per_day = await session.execute(
            sa.select(day, sa.func.count())
            .where(Decision.tenant_id == tenant_id, Decision.made_at >= _start_of(first_day))
            .group_by(day)
        )
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


# ---- shopping and orders ----


@dataclass(frozen=True, slots=True)
class OfferFigures:
    shown: Sequence[tuple[str, Any, int]]  # offer type, day, offers shown
    ordered: Sequence[tuple[str, Any, int, Any]]  # offer type, day, orders, their total (minor)
    stats: Sequence[tuple[str, Any, Any]]  # offer type, shown and ordered over all time


async def offer_figures(sessions: Sessions, tenant_id: uuid.UUID, first_day: date) -> OfferFigures:
    """Offers shown and orders held or confirmed per day and offer type since ``first_day``
    (UTC), and the all-time counters the ranking learns conversion from."""
    order_day = sa.func.date(Order.created_at)
    async with sessions.session_factory() as session:
        shown = await session.execute(
            sa.select(OfferDay.offer_type, OfferDay.day, OfferDay.shown).where(
                OfferDay.tenant_id == tenant_id, OfferDay.day >= first_day
            )
        )
        ordered = await session.execute(
            sa.select(Order.offer_type, order_day, sa.func.count(), sa.func.sum(Order.total_minor))
            .where(
                Order.tenant_id == tenant_id,
                Order.created_at >= _start_of(first_day),
                Order.status.in_(("HELD", "CONFIRMED")),
            )
            .group_by(Order.offer_type, order_day)
        )
        stats = await session.execute(
            sa.select(
                OfferStat.offer_type, sa.func.sum(OfferStat.shown), sa.func.sum(OfferStat.ordered)
            )
            .where(OfferStat.tenant_id == tenant_id)
            .group_by(OfferStat.offer_type)
        )
        return OfferFigures(shown.all(), ordered.all(), stats.all())


# ---- versioning ----


async def object_versions(
    sessions: Sessions, *, tenant_id: uuid.UUID, object_type: str, object_id: uuid.UUID
) -> Sequence[ObjectVersion]:
    """Every recorded version of one of the tenant's objects, oldest first."""
    async with sessions.session_factory() as session:
        found = await session.scalars(
            sa.select(ObjectVersion)
            .where(
                ObjectVersion.tenant_id == tenant_id,
                ObjectVersion.object_type == object_type,
                ObjectVersion.object_id == object_id,
            )
            .order_by(ObjectVersion.version)
        )
        return found.all()


async def audit_entries(
    sessions: Sessions, query: versioning.AuditQuery, *, limit: int, cursor: str | None
) -> tuple[Sequence[AuditEntry], str | None]:
    """A page of the audit log, newest first, with the cursor of the next."""
    async with sessions.session_factory() as session:
        return await versioning.list_audit(session, query, limit=limit, cursor=cursor)
