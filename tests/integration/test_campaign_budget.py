"""A campaign's budget under concurrency, on SQLite and PostgreSQL: grants reserved at once
never reserve past the budget, one grant redeemed at once is redeemed once, redemptions at
once never spend past the budget, and the expiry sweep releases each reservation once."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.campaigns import grants
from offerengine.campaigns.models import Campaign, CampaignBudget, CampaignGrant
from offerengine.clock import utcnow
from offerengine.db.engine import create_engine
from offerengine.db.session import write_transaction
from offerengine.errors import Conflict
from offerengine.orders.sweeper import OrderSweeper
from offerengine.tenants.models import Tenant

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
CALLS = 12


@dataclass(frozen=True)
class Sessions:
    session_factory: async_sessionmaker[AsyncSession]
    is_sqlite: bool


async def _campaign(sessions: Sessions, budget: int) -> Campaign:
    async with write_transaction(sessions) as session:
        tenant = Tenant(
            id=uuid.uuid4(),
            code=f"T{uuid.uuid4().hex[:6].upper()}",
            name="T",
            kind="marketplace",
            base_currency="EUR",
            timezone="UTC",
        )
        session.add(tenant)
        await session.flush()
        campaign = Campaign(
            tenant_id=tenant.id,
            code="C",
            name="C",
            promotions=["P"],
            audience={},
            channel="email",
            currency="EUR",
            budget_minor=budget,
            min_basket_minor=None,
            starts_at=NOW - timedelta(days=1),
            ends_at=NOW + timedelta(days=30),
            holdout_share=0.2,
            grant_days=7,
        )
        session.add(campaign)
    return campaign


async def _grant(sessions: Sessions, campaign: Campaign, customer: str, cost: int) -> CampaignGrant:
    async with write_transaction(sessions) as session:
        assert await grants.reserve(session, campaign, cost)
        grant = CampaignGrant(
            id=uuid.uuid4(),
            tenant_id=campaign.tenant_id,
            campaign_id=campaign.id,
            code=f"G-{uuid.uuid4().hex[:10].upper()}",
            customer_id=customer,
            promotion="P",
            currency="EUR",
            discount_minor=1500,
            min_basket_minor=None,
            expected_cost_minor=cost,
            status=grants.ISSUED,
            granted_at=NOW,
            expires_at=NOW + timedelta(days=7),
        )
        session.add(grant)
    return grant


async def _budget(sessions: Sessions, campaign: Campaign) -> grants.Budget:
    async with sessions.session_factory() as session:
        return await grants.budget(session, campaign)


async def _redeem(sessions: Sessions, grant: CampaignGrant, at: datetime = NOW) -> bool:
    try:
        async with write_transaction(sessions) as session:
            await grants.redeem(
                session,
                tenant_id=grant.tenant_id,
                grant_id=grant.id,
                code=grant.code,
                customer_id=grant.customer_id,
                quote_id=uuid.uuid4(),
                discount=grant.discount_minor,
                now=at,
            )
    except Conflict:
        return False
    return True


async def _race(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=CALLS)
    sessions = Sessions(
        async_sessionmaker(engine, expire_on_commit=False), engine.dialect.name == "sqlite"
    )
    try:
        # Reservations at once: 12 of 400 against a budget of 1,000 → exactly 2 fit.
        campaign = await _campaign(sessions, 1000)

        async def reserve() -> bool:
            async with write_transaction(sessions) as session:
                return await grants.reserve(session, campaign, 400)

        taken = await asyncio.gather(*(reserve() for _ in range(CALLS)))
        assert sum(taken) == 2
        assert await _budget(sessions, campaign) == grants.Budget(800, 0)

        # One grant redeemed by many acceptances at once: redeemed once, spent once.
        campaign = await _campaign(sessions, 10_000)
        grant = await _grant(sessions, campaign, "c0", 300)
        results = await asyncio.gather(*(_redeem(sessions, grant) for _ in range(CALLS)))
        assert sum(results) == 1
        assert await _budget(sessions, campaign) == grants.Budget(0, 1500)

        # Many grants redeemed at once against a budget for 3 of their discounts: never spent
        # past it; the refused stay ISSUED, their reservations kept.
        campaign = await _campaign(sessions, 4500 + 600)
        made = [await _grant(sessions, campaign, f"c{i}", 100) for i in range(6)]
        results = await asyncio.gather(*(_redeem(sessions, g) for g in made))
        assert sum(results) == 3
        used = await _budget(sessions, campaign)
        assert used.spent == 4500 <= campaign.budget_minor
        assert used.reserved == 300

        # Expired: not redeemable; the sweep releases each reservation once, however often
        # (and however many at once) it runs.
        late = NOW + timedelta(days=8)
        assert not await _redeem(sessions, made[results.index(False)], late)

        async def sweep() -> int:
            async with write_transaction(sessions) as session:
                return await grants.sweep(session, campaign.tenant_id, late)

        swept = await asyncio.gather(*(sweep() for _ in range(4)))
        assert sum(swept) == 3
        assert await _budget(sessions, campaign) == grants.Budget(0, 4500)
        async with sessions.session_factory() as session:
            statuses = sorted(
                await session.scalars(
                    sa.select(CampaignGrant.status).where(CampaignGrant.campaign_id == campaign.id)
                )
            )
            rows = await session.scalar(sa.select(sa.func.count()).select_from(CampaignBudget))
        assert statuses == ["EXPIRED"] * 3 + ["REDEEMED"] * 3
        assert rows == 3

        # Each worker's background sweep expires them too (here: a grant past its time now).
        campaign = await _campaign(sessions, 1000)
        stale = await _grant(sessions, campaign, "c0", 250)
        async with write_transaction(sessions) as session:
            await session.execute(
                sa.update(CampaignGrant)
                .where(CampaignGrant.id == stale.id)
                .values(expires_at=utcnow() - timedelta(minutes=1))
            )
        sweeper = OrderSweeper(
            sessions.session_factory,
            seconds=60,
            is_sqlite=sessions.is_sqlite,
            on_release=lambda: None,
        )
        await sweeper.sweep_once()
        assert await _budget(sessions, campaign) == grants.Budget(0, 0)
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_campaign_budgets_hold_under_concurrent_grants_redemptions_and_sweeps(
    database_url: str,
) -> None:
    asyncio.run(_race(database_url))
