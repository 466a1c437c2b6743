"""Loyalty: what earning costs per order, and redemptions on one member under contention.

    .venv/bin/python bench/loyalty.py [--redemptions 1100] [--width 8] [--postgres URL]

In process, on one core: the median time of the pure core's earning for an order of a fare and
three ancillaries (four earn rules, a tier bonus). Then, through the use case an order calls
(``points.redeem_for_order``, each in its write transaction), --redemptions redemptions of one
point, --width at a time, all on ONE member holding 1,000 points (the worst case: every one
waits for the member's row): how many were made and refused, the balance left (never below
zero), and redemptions per second. On a SQLite file, and on PostgreSQL when --postgres names a
server (a schema of its own, dropped at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import sqlalchemy as sa
from _http import machine
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.app import create_app
from offerengine.db import migrate
from offerengine.db.engine import create_engine
from offerengine.db.session import write_transaction
from offerengine.errors import Conflict
from offerengine.loyalty import core, points
from offerengine.loyalty.models import LoyaltyMember, LoyaltyProgramme
from offerengine.loyalty.schemas import PointsPayment
from offerengine.settings import Settings

PLATFORM = "oek_bench-platform-key-0123456789abcdefghijklmnopq"
PROGRAMME = {
    "code": "SKY",
    "name": "Skyway Miles",
    "currency": "USD",
    "tiers": [{"code": "GOLD", "name": "Gold", "benefits": {"bonus_percentage": "50"}}],
    "point_values": [{"currency": "USD", "value": "0.01"}],
}


@dataclass
class Sessions:
    session_factory: async_sessionmaker[AsyncSession]
    is_sqlite: bool


def earning() -> float:
    """Microseconds to work out what one order earns."""
    programme = core.Programme(
        uuid.uuid4(),
        "SKY",
        "Skyway Miles",
        1,
        "USD",
        (core.Tier("GOLD", "Gold", core.Benefits(bonus_percentage=Decimal(50))),),
        (
            core.EarnRule(Decimal(5), product_type="FLIGHT"),
            core.EarnRule(Decimal(8), product_type="FLIGHT", fare_family="FLEX"),
            core.EarnRule(Decimal(10), product_type="FLIGHT", cabin="BUSINESS"),
            core.EarnRule(Decimal(1)),
        ),
    )
    items = [
        core.EarnItem("FLIGHT", Decimal("612.40"), cabin="ECONOMY", fare_family="FLEX"),
        core.EarnItem("SEAT", Decimal("45.00")),
        core.EarnItem("MEAL", Decimal("18.00")),
        core.EarnItem("BAGGAGE", Decimal("60.00")),
    ]
    rounds = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(10_000):
            core.earn(programme, "GOLD", items)
        rounds.append((time.perf_counter() - began) / 10_000 * 1e6)
    return statistics.median(rounds)


def seed(url: str, folder: Path) -> None:
    """Tenant OE, the programme and member c1 with 1,000 points (ten lots of 100)."""
    migrate.upgrade(url)
    settings = Settings(
        database_url=url,
        platform_key=PLATFORM,
        var_dir=folder,
        access_log=False,
        log_level="WARNING",
    )
    with TestClient(create_app(settings)) as client:
        auth = {"Authorization": f"Bearer {PLATFORM}"}
        body = {"code": "OE", "name": "OE", "kind": "airline", "base_currency": "USD"}
        assert client.post("/v1/admin/tenants", json=body, headers=auth).status_code == 201
        base = "/v1/admin/tenants/OE/loyalty/programmes"
        assert client.post(base, json=PROGRAMME, headers=auth).status_code == 201
        member = {"customer_id": "c1", "tier": "GOLD"}
        assert client.post(f"{base}/SKY/members", json=member, headers=auth).status_code == 201
        for i in range(10):
            made = client.post(
                f"{base}/SKY/members/c1/adjust",
                json={"points": 100, "reason": "bench", "key": f"k{i}"},
                headers=auth,
            )
            assert made.status_code == 201, made.text


async def redeem(url: str, n: int, width: int) -> str:
    engine = create_engine(url, pool_size=width)
    sessions = Sessions(
        async_sessionmaker(engine, expire_on_commit=False), engine.dialect.name == "sqlite"
    )
    async with sessions.session_factory() as session:
        tenant_id = (await session.scalars(sa.select(LoyaltyProgramme.tenant_id))).one()
    made = refused = 0
    gate = asyncio.Semaphore(width)

    async def one() -> None:
        nonlocal made, refused
        async with gate:
            try:
                async with write_transaction(sessions) as session:
                    await points.redeem_for_order(
                        session,
                        tenant_id=tenant_id,
                        order_id=uuid.uuid4(),
                        customer_id="c1",
                        currency="USD",
                        total_minor=10_000,
                        request=PointsPayment(programme="SKY", points=1),
                        now=datetime.now(UTC),
                    )
                made += 1
            except Conflict:
                refused += 1

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    took = time.perf_counter() - began
    async with sessions.session_factory() as session:
        balance = (await session.scalars(sa.select(LoyaltyMember.balance))).one()
    await engine.dispose()
    return (
        f"{engine.dialect.name}: {n} redemptions of 1 point, {width} at a time, on one member "
        f"of 1,000 points: {made} made, {refused} refused, balance {balance}; {n / took:.0f}/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redemptions", type=int, default=1100)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument(
        "--postgres", default=None, help="e.g. postgresql://postgres@127.0.0.1/test"
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"earning, an order of 4 items under 4 rules: {earning():.1f} µs")
    folder = Path(tempfile.mkdtemp(prefix="oe-loyalty-"))
    sqlite = f"sqlite:///{folder / 'loyalty.db'}"
    seed(sqlite, folder)
    print(asyncio.run(redeem(sqlite, args.redemptions, args.width)))
    if args.postgres:
        schema = f"oe_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            url = f"{args.postgres}?options=-csearch_path%3D{schema}"
            seed(url, folder / "pg")
            print(asyncio.run(redeem(url, args.redemptions, args.width)))
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
