"""The dashboard's figures, summed by the database on SQLite and PostgreSQL: coupon uses and the
discounts accepted quotes took per day within a range, and offers shown per day and offer type
within a range (sums come back as integers on both)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.commerce.figures import coupon_figures
from offerengine.commerce.models import Coupon, CouponUsage, StoredQuote
from offerengine.db.engine import create_engine
from offerengine.db.session import write_transaction
from offerengine.shopping.figures import offer_figures
from offerengine.shopping.models import OfferDay
from offerengine.tenants.models import Tenant
from offerengine.web import dashboards

FIRST = date(2026, 11, 1)


@dataclass(frozen=True)
class Sessions:
    session_factory: async_sessionmaker[AsyncSession]
    is_sqlite: bool


def _quote(tenant_id: uuid.UUID, day: date, *, accepted: bool, discount: int) -> StoredQuote:
    made = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    return StoredQuote(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        request_hash="0" * 64,
        created_at=made,
        valid_until=made + timedelta(minutes=30),
        status="ACCEPTED" if accepted else "QUOTED",
        accepted_at=made if accepted else None,
        day=day.isoformat(),
        customer_id="c1",
        seller_id="s1",
        city="Amsterdam",
        country="NL",
        currency="EUR",
        item_total=5000,
        discount=discount,
        tax=0,
        delivery_fee=0,
        small_basket_fee=0,
        total=5000 - discount,
        commission=100,
        coupons=[],
        data=b"{}",
    )


async def _check(database_url: str) -> None:
    engine = create_engine(database_url)
    sessions = Sessions(
        async_sessionmaker(engine, expire_on_commit=False), engine.dialect.name == "sqlite"
    )
    try:
        tenant_id = uuid.uuid4()
        coupon_id = uuid.uuid4()
        async with write_transaction(sessions) as session:
            session.add(
                Tenant(
                    id=tenant_id,
                    code=f"T{uuid.uuid4().hex[:6].upper()}",
                    name="T",
                    kind="marketplace",
                    base_currency="EUR",
                    timezone="UTC",
                )
            )
            await session.flush()
            session.add(Coupon(id=coupon_id, tenant_id=tenant_id, code="WELCOME10", body={}))
            session.add_all(
                [
                    CouponUsage(tenant_id=tenant_id, coupon_id=coupon_id, customer_id="", count=3),
                    CouponUsage(
                        tenant_id=tenant_id, coupon_id=coupon_id, customer_id="c1", count=3
                    ),
                    CouponUsage(
                        tenant_id=tenant_id, coupon_id=uuid.uuid4(), customer_id="", count=1
                    ),
                ]
            )
            session.add_all(
                [
                    _quote(tenant_id, FIRST, accepted=True, discount=500),
                    _quote(tenant_id, FIRST, accepted=True, discount=250),
                    _quote(tenant_id, FIRST, accepted=False, discount=500),  # not accepted
                    _quote(tenant_id, FIRST, accepted=True, discount=0),  # no discount
                    _quote(tenant_id, FIRST + timedelta(days=2), accepted=True, discount=100),
                    _quote(tenant_id, FIRST + timedelta(days=9), accepted=True, discount=900),
                ]
            )
            session.add_all(
                [
                    OfferDay(tenant_id=tenant_id, day=FIRST, offer_type="BUNDLE", shown=7),
                    OfferDay(tenant_id=tenant_id, day=FIRST, offer_type="FLIGHT_ONLY", shown=2),
                    OfferDay(
                        tenant_id=tenant_id,
                        day=FIRST + timedelta(days=5),
                        offer_type="BUNDLE",
                        shown=4,
                    ),
                ]
            )
        span = dashboards.Span(FIRST, FIRST + timedelta(days=2))
        coupons = await coupon_figures(sessions, tenant_id, span.first, span.last)
        assert [(code, n) for _, code, n in coupons.uses] == [("WELCOME10", 3), (None, 1)]
        assert sorted(coupons.discounted) == [
            (FIRST.isoformat(), "EUR", 2, 750),
            ((FIRST + timedelta(days=2)).isoformat(), "EUR", 1, 100),
        ]
        board = dashboards.coupon_usage(coupons, span.days)
        assert board.totals == {"discounted": "3", "discount": "8.50 EUR"}
        assert board.tables["coupons"][0] == {"coupon": "WELCOME10", "uses": 3}
        assert board.tables["coupons"][1]["coupon"].startswith("personal ")

        shown = await offer_figures(sessions, tenant_id, FIRST, FIRST + timedelta(days=4))
        assert sorted((t, str(d)[:10], n) for t, d, n in shown.shown) == [
            ("BUNDLE", FIRST.isoformat(), 7),
            ("FLIGHT_ONLY", FIRST.isoformat(), 2),
        ]
        assert all(type(n) is int for _, _, n in shown.shown)
        performance = dashboards.offer_performance(
            shown, dashboards.Span(FIRST, FIRST + timedelta(days=4)).days, "EUR"
        )
        assert performance.totals["offers"] == "9"
        assert performance.totals["conversion"] == "0.0 %"
    finally:
        await engine.dispose()


def test_figures_sum_in_the_database_within_the_range(database_url: str) -> None:
    asyncio.run(_check(database_url))
