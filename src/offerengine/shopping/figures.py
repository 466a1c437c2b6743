"""What shopping sold, for people (the admin UI's dashboard): offers shown and orders held or
confirmed per day and offer type, and the all-time counters the ranking learns conversion from."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from offerengine.clock import start_of_day
from offerengine.db.session import Sessions
from offerengine.orders.models import Order
from offerengine.shopping.models import OfferDay, OfferStat


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
                Order.created_at >= start_of_day(first_day),
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
