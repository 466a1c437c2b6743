"""The dashboard over 100,000 records: the time to render the airline's and the marketplace's
dashboard for each date-range preset.

    .venv/bin/python bench/dashboard.py [--records 100000] [--database-url URL] [--rounds 5]

The demo's airline (OE) gets ``--records`` decisions and the marketplace (MKT) as many stored
quotes (one line each, a fifth of them accepted with a coupon's discount), spread over the last
120 days; an owner of each, logged in to the admin UI, loads ``/admin?days=7|30|90``: median
and slowest of ``--rounds`` loads each, in process (no network). Every figure is summed by the
database (GROUP BY), so the time follows the days shown, not the records stored.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import sqlalchemy as sa
from _http import machine
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.auth import users
from offerengine.auth.core import Actor, ActorKind, Role
from offerengine.commerce.models import QuoteLine, StoredQuote
from offerengine.db import migrate
from offerengine.decisioning.models import Decision
from offerengine.demo import service as demo
from offerengine.settings import Settings
from offerengine.tenants import service as tenants
from offerengine.units import run_in_transaction

ACTOR = Actor(ActorKind.CLI, None, "bench")
PASSWORD = "a long enough password"
BATCH = 5_000
SPREAD_DAYS = 120


async def seed(settings: Settings, records: int) -> None:
    now = datetime.now(UTC).replace(microsecond=0)

    async def work(session: Any) -> None:
        await demo.load(session, actor=ACTOR)
        airline = await tenants.find(session, "OE")
        market = await tenants.find(session, "MKT")
        assert airline is not None
        assert market is not None
        for tenant, email in ((airline, "owner@oe.bench"), (market, "owner@mkt.bench")):
            await users.create_user(
                session,
                tenant_id=tenant.id,
                email=email,
                role=Role.OWNER,
                password=PASSWORD,
                actor=ACTOR,
            )
        for start in range(0, records, BATCH):
            decisions, quotes, lines = [], [], []
            for i in range(start, min(start + BATCH, records)):
                made = now - timedelta(seconds=(i * 7919) % (SPREAD_DAYS * 86_400))
                decisions.append(
                    {
                        "id": uuid.uuid4(),
                        "tenant_id": airline.id,
                        "profile_id": f"p{i % 5000}",
                        "made_at": made,
                        "propositions": [],
                    }
                )
                quote_id = uuid.uuid4()
                accepted = i % 5 == 0
                quotes.append(
                    {
                        "id": quote_id,
                        "tenant_id": market.id,
                        "request_hash": "0" * 64,
                        "created_at": made,
                        "valid_until": made + timedelta(minutes=30),
                        "status": "ACCEPTED" if accepted else "QUOTED",
                        "accepted_at": made if accepted else None,
                        "day": made.date().isoformat(),
                        "customer_id": f"c{i % 3000}",
                        "seller_id": f"seller-{i % 40}",
                        "city": "Amsterdam",
                        "country": "NL",
                        "currency": "EUR",
                        "item_total": 5_000,
                        "discount": 500 if accepted else 0,
                        "tax": 900,
                        "delivery_fee": 300,
                        "small_basket_fee": 0,
                        "total": 5_700 if accepted else 6_200,
                        "commission": 450,
                        "coupons": [],
                        "data": b"{}",
                    }
                )
                lines.append(
                    {
                        "tenant_id": market.id,
                        "quote_id": quote_id,
                        "n": 0,
                        "category": f"category-{i % 25}",
                        "seller_id": f"seller-{i % 40}",
                        "logistics_provider": "post",
                        "units": 1,
                        "value": 5_000,
                        "net": 4_100,
                        "tax": 900,
                        "seller_commission": 250,
                        "category_commission": 150,
                        "logistics_commission": 50,
                    }
                )
            await session.execute(sa.insert(Decision), decisions)
            await session.execute(sa.insert(StoredQuote), quotes)
            await session.execute(sa.insert(QuoteLine), lines)

    await run_in_transaction(settings, work)


def timed(client: TestClient, path: str, rounds: int) -> tuple[float, float]:
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        found = client.get(path)
        seconds.append(time.perf_counter() - started)
        if found.status_code != 200:
            raise SystemExit(f"{path}: {found.status_code} {found.text[:300]}")
    return statistics.median(seconds) * 1000, max(seconds) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'dashboard.db'}"
        if not args.database_url:
            migrate.upgrade(url)
        settings = Settings(
            database_url=url,
            var_dir=Path(folder) / "var",
            log_level="WARNING",
            access_log=False,
            max_in_flight=10_000,
        )
        started = time.perf_counter()
        asyncio.run(seed(settings, args.records))
        print(f"{machine()}; {url.split(':')[0]}; {args.records:,} decisions and quotes")
        print(f"seeded in {time.perf_counter() - started:.0f} s")
        print(f"{'dashboard':<40}{'median ms':>10}{'max ms':>9}")
        for email in ("owner@oe.bench", "owner@mkt.bench"):
            with TestClient(create_app(settings)) as client:
                page = client.get("/admin/login")
                token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert token is not None
                client.post(
                    "/admin/login",
                    data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
                    follow_redirects=False,
                )
                for days in (7, 30, 90):
                    path = f"/admin?days={days}"
                    median, slowest = timed(client, path, args.rounds)
                    print(
                        f"{email.split('@')[1].split('.')[0].upper() + ' ' + path:<40}{median:>10.0f}{slowest:>9.0f}"
                    )


if __name__ == "__main__":
    main()
