"""What coupons did, for people (the admin UI's marketplace dashboard): the uses of every coupon
and the discounts accepted quotes took per day, each summed by the database."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from offerengine.clock import start_of_day
from offerengine.commerce.models import Coupon, CouponUsage, StoredQuote
from offerengine.db.session import Sessions

TOP = 20  # the coupons a dashboard shows, most used first


@dataclass(frozen=True, slots=True)
class CouponFigures:
    uses: Sequence[tuple[uuid.UUID, str | None, int]]  # coupon id, its code (None: personal), uses
    # the tenant's day, currency, accepted quotes with a discount, the discount (minor units)
    discounted: Sequence[tuple[str, str, int, Any]]


async def coupon_figures(
    sessions: Sessions, tenant_id: uuid.UUID, first_day: date, last_day: date
) -> CouponFigures:
    """The :data:`TOP` most used coupons (accepted quotes that used them, all time) and, per
    day of the tenant from ``first_day`` to ``last_day`` (both included) and currency, the
    accepted quotes that took a discount and what it came to."""
    uses = (
        sa.select(CouponUsage.coupon_id, Coupon.code, CouponUsage.count)
        .outerjoin(
            Coupon,
            sa.and_(Coupon.tenant_id == CouponUsage.tenant_id, Coupon.id == CouponUsage.coupon_id),
        )
        .where(CouponUsage.tenant_id == tenant_id, CouponUsage.customer_id == "")
        .order_by(CouponUsage.count.desc(), Coupon.code)
        .limit(TOP)
    )
    discounted = (
        sa.select(
            StoredQuote.day,
            StoredQuote.currency,
            sa.func.count(),
            sa.func.sum(StoredQuote.discount),
        )
        .where(
            StoredQuote.tenant_id == tenant_id,
            StoredQuote.status == "ACCEPTED",
            StoredQuote.discount > 0,
            StoredQuote.day >= first_day.isoformat(),
            StoredQuote.day <= last_day.isoformat(),
            # A tenant's day is within a day of UTC's: a window the (tenant, created_at) index reads.
            StoredQuote.created_at >= start_of_day(first_day - timedelta(days=1)),
            StoredQuote.created_at < start_of_day(last_day + timedelta(days=2)),
        )
        .group_by(StoredQuote.day, StoredQuote.currency)
    )
    async with sessions.session_factory() as session:
        found_uses = (await session.execute(uses)).all()
        found_discounts = (await session.execute(discounted)).all()
    return CouponFigures(
        [(i, c, int(n)) for i, c, n in found_uses],
        [(str(d), str(cur), int(n), total) for d, cur, n, total in found_discounts],
    )
