"""What shopping sold, for people (the admin UI's dashboard): offers shown and orders held or
confirmed per day and offer type within a range: conversion is the orders over the offers shown."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from offerengine.clock import start_of_day
from offerengine.db.session import Sessions
from offerengine.orders.models import Order
from offerengine.shopping.models import OfferDay


@dataclass(frozen=True, slots=True)
class OfferFigures:
    shown: Sequence[tuple[str, Any, int]]  # offer type, day, offers shown
    ordered: Sequence[tuple[str, Any, int, Any]]  # offer type, day, orders, their total (minor)


async def offer_figures(
    sessions: Sessions, tenant_id: uuid.UUID, first_day: date, last_day: date | None = None
) -> OfferFigures:
    """Offers shown and orders held or confirmed per day and offer type from ``first_day`` to
    ``last_day`` (UTC days, both included; no end when ``None``), summed by the database."""
    order_day = sa.func.date(Order.created_at)
    shown_stmt = (
        sa.select(
            OfferDay.offer_type, OfferDay.day, sa.cast(sa.func.sum(OfferDay.shown), sa.BigInteger)
        )
        .where(OfferDay.tenant_id == tenant_id, OfferDay.day >= first_day)
        .group_by(OfferDay.offer_type, OfferDay.day)
    )
    ordered_stmt = (
        sa.select(Order.offer_type, order_day, sa.func.count(), sa.func.sum(Order.total_minor))
        .where(
            Order.tenant_id == tenant_id,
            Order.created_at >= start_of_day(first_day),
            Order.status.in_(("HELD", "CONFIRMED")),
        )
        .group_by(Order.offer_type, order_day)
    )
    if last_day is not None:
        shown_stmt = shown_stmt.where(OfferDay.day <= last_day)
        ordered_stmt = ordered_stmt.where(
            Order.created_at < start_of_day(last_day + timedelta(days=1))
        )
    async with sessions.session_factory() as session:
        shown = await session.execute(shown_stmt)
        ordered = await session.execute(ordered_stmt)
        return OfferFigures(shown.all(), ordered.all())
