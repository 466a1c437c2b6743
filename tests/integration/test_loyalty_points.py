"""Points under concurrency and over time, on SQLite and PostgreSQL: concurrent redemptions never
take a balance below zero or spend a point twice, the same adjustment sent at once is made once,
and the expiry sweep expires what is due exactly once, from the lots a use had left."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.app import create_app
from offerengine.db.engine import create_engine
from offerengine.db.session import write_transaction
from offerengine.errors import Conflict
from offerengine.loyalty import points
from offerengine.loyalty.models import LedgerEntry, LoyaltyMember, LoyaltyProgramme
from offerengine.loyalty.schemas import PointsPayment
from offerengine.orders.sweeper import OrderSweeper
from tests.conftest import make_settings
from tests.helpers import Api, tenant_api

PROGRAMME = {
    "code": "SKY",
    "name": "Skyway Miles",
    "currency": "USD",
    "tiers": [{"code": "BLUE", "name": "Blue"}],
    "point_values": [{"currency": "USD", "value": "0.01"}],
    "expiry_months": 12,
}
BASE = "/v1/admin/tenants/OE/loyalty/programmes/SKY/members"


@dataclass
class Sessions:
    session_factory: async_sessionmaker[AsyncSession]
    is_sqlite: bool


@pytest.fixture
def owner(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        api = tenant_api(client, "OE")
        assert api.post("/v1/admin/tenants/OE/loyalty/programmes", json=PROGRAMME).is_success
        made = api.post(BASE, json={"customer_id": "c1", "tier": "BLUE"})
        assert made.status_code == 201, made.text
        yield api


def _credit(owner: Api, points_: int, key: str) -> None:
    made = owner.post(
        f"{BASE}/c1/adjust",
        json={"points": points_, "reason": "test"},
        headers={"Idempotency-Key": key},
    )
    assert made.status_code == 201, made.text


async def _sessions(database_url: str) -> tuple[Sessions, object]:
    engine = create_engine(database_url, pool_size=20)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    return Sessions(factory, engine.dialect.name == "sqlite"), engine


async def _state(sessions: Sessions) -> tuple[int, int, list[tuple[str, int]]]:
    """The member's balance, what its lots hold, and its ledger (kind, points)."""
    async with sessions.session_factory() as session:
        member = (await session.scalars(sa.select(LoyaltyMember))).one()
        lots = await session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.remaining), 0)).where(
                LedgerEntry.member_id == member.id
            )
        )
        rows = (
            await session.execute(
                sa.select(LedgerEntry.kind, LedgerEntry.points).order_by(LedgerEntry.created_at)
            )
        ).all()
        return member.balance, int(lots or 0), [(k, p) for k, p in rows]


def test_concurrent_redemptions_never_overspend(owner: Api, database_url: str) -> None:
    _credit(owner, 600, "a")
    _credit(owner, 400, "b")

    async def run() -> tuple[list[object], tuple[int, int, list[tuple[str, int]]]]:
        sessions, engine = await _sessions(database_url)
        async with sessions.session_factory() as session:
            tenant_id = (await session.scalars(sa.select(LoyaltyProgramme.tenant_id))).one()

        async def redeem(i: int) -> object:
            try:
                async with write_transaction(sessions) as session:
                    shown, _ = await points.redeem_for_order(
                        session,
                        tenant_id=tenant_id,
                        order_id=uuid.uuid4(),
                        customer_id="c1",
                        currency="USD",
                        total_minor=100_000,
                        request=PointsPayment(programme="SKY", points=300),
                        now=datetime.now(UTC),
                    )
                    return shown
            except Conflict as exc:
                return exc

        results = await asyncio.gather(*(redeem(i) for i in range(12)))
        state = await _state(sessions)
        await engine.dispose()  # type: ignore[attr-defined]
        return list(results), state

    results, (balance, lots, ledger) = asyncio.run(run())
    made = [r for r in results if isinstance(r, dict)]
    assert len(made) == 3  # 1000 points hold three uses of 300, never four
    assert all(r["amount"] == "3.00" for r in made)
    assert (balance, lots) == (100, 100)
    assert sorted(p for k, p in ledger if k == "redeem") == [-300, -300, -300]


def test_the_same_adjustment_sent_at_once_is_made_once(owner: Api, database_url: str) -> None:
    _credit(owner, 50, "seed")

    async def run() -> tuple[list[bool], tuple[int, int, list[tuple[str, int]]]]:
        sessions, engine = await _sessions(database_url)

        async def adjust() -> bool:
            try:
                async with write_transaction(sessions) as session:
                    programme = (await session.scalars(sa.select(LoyaltyProgramme))).one()
                    member = (await session.scalars(sa.select(LoyaltyMember))).one()
                    _, created = await points.adjust(
                        session,
                        programme=programme,
                        member=member,
                        points=-40,
                        reason="fix",
                        key="same",
                        now=datetime.now(UTC),
                    )
                    return created
            except Conflict:
                return False

        results = await asyncio.gather(*(adjust() for _ in range(6)))
        state = await _state(sessions)
        await engine.dispose()  # type: ignore[attr-defined]
        return list(results), state

    results, (balance, lots, ledger) = asyncio.run(run())
    assert results.count(True) == 1
    assert (balance, lots) == (10, 10)
    assert [e for e in ledger if e[0] == "adjust" and e[1] < 0] == [("adjust", -40)]


def test_the_expiry_sweep_expires_what_a_use_left_once(owner: Api, database_url: str) -> None:
    _credit(owner, 700, "old")

    async def run() -> tuple[tuple[int, int], tuple[int, int], tuple[int, int, list[object]]]:
        sessions, engine = await _sessions(database_url)
        async with write_transaction(sessions) as session:
            # The first lot is a year older than the second: it expires first, and is used first.
            old = (await session.scalars(sa.select(LedgerEntry))).one()
            old.expires_at = datetime.now(UTC) + timedelta(days=30)
            member = (await session.scalars(sa.select(LoyaltyMember))).one()
            programme = (await session.scalars(sa.select(LoyaltyProgramme))).one()
            await points.adjust(
                session,
                programme=programme,
                member=member,
                points=500,
                reason="newer",
                key="new",
                now=datetime.now(UTC),
            )
            await points.adjust(
                session,
                programme=programme,
                member=member,
                points=-200,
                reason="use",
                key="use",
                now=datetime.now(UTC),
            )
        later = datetime.now(UTC) + timedelta(days=60)
        async with write_transaction(sessions) as session:
            first = await points.expire(session, now=later)
        async with write_transaction(sessions) as session:
            second = await points.expire(session, now=later)
        state = await _state(sessions)
        await engine.dispose()  # type: ignore[attr-defined]
        return first, second, state  # type: ignore[return-value]

    first, second, (balance, lots, ledger) = asyncio.run(run())
    assert first == (1, 500)  # 700 less the 200 used from it
    assert second == (0, 0)
    assert (balance, lots) == (500, 500)
    assert ledger[-1] == ("expire", -500)


def test_each_workers_background_sweep_expires_points(owner: Api, database_url: str) -> None:
    _credit(owner, 300, "old")

    async def run() -> tuple[int, int, list[tuple[str, int]]]:
        sessions, engine = await _sessions(database_url)
        async with write_transaction(sessions) as session:
            lot = (await session.scalars(sa.select(LedgerEntry))).one()
            lot.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        sweeper = OrderSweeper(
            sessions.session_factory, seconds=60, is_sqlite=sessions.is_sqlite, on_release=list
        )
        await sweeper.sweep_once()
        await sweeper.sweep_once()
        state = await _state(sessions)
        await engine.dispose()  # type: ignore[attr-defined]
        return state

    balance, lots, ledger = asyncio.run(run())
    assert (balance, lots) == (0, 0)
    assert ledger == [("adjust", 300), ("expire", -300)]


def test_points_past_their_expiry_are_not_spent_before_the_sweep(
    owner: Api, database_url: str
) -> None:
    _credit(owner, 300, "old")
    _credit(owner, 100, "new")

    async def run() -> tuple[bool, int]:
        sessions, engine = await _sessions(database_url)
        async with write_transaction(sessions) as session:
            lots = (
                await session.scalars(sa.select(LedgerEntry).order_by(LedgerEntry.points))
            ).all()
            lots[-1].expires_at = datetime.now(UTC) - timedelta(days=1)  # the 300
        refused = False
        try:
            async with write_transaction(sessions) as session:
                programme = (await session.scalars(sa.select(LoyaltyProgramme))).one()
                member = (await session.scalars(sa.select(LoyaltyMember))).one()
                await points.adjust(
                    session,
                    programme=programme,
                    member=member,
                    points=-150,
                    reason="use",
                    key="use",
                    now=datetime.now(UTC),
                )
        except Conflict:
            refused = True
        balance, _, _ = await _state(sessions)
        await engine.dispose()  # type: ignore[attr-defined]
        return refused, balance

    assert asyncio.run(run()) == (True, 400)
