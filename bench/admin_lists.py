"""Admin lists at 100,000 objects: the time to render a list page and to answer a list.

    .venv/bin/python bench/admin_lists.py [--objects 100000] [--database-url URL] [--rounds 5]

One tenant gets ``--objects`` products and as many decisioning offers (imported in bulk, as
`offerengine import` does), then an owner logged in to the admin UI loads each list page
(first page, a later page, filtered, searched) and the API answers the same lists (with
``count=true``): median and slowest of ``--rounds`` loads each, in process (no network).
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _http import machine
from bulk_import import offer_rows, product_rows
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.auth import users
from offerengine.auth.core import Actor, ActorKind, Role
from offerengine.db import migrate
from offerengine.settings import Settings
from offerengine.transfer import core, kinds
from offerengine.transfer import service as transfer
from offerengine.units import run_in_transaction

ACTOR = Actor(ActorKind.CLI, None, "bench")
PASSWORD = "a long enough password"


async def seed(settings: Settings, objects: int) -> str:
    from offerengine.decisioning import schemas as ds
    from offerengine.decisioning import service as decisioning
    from offerengine.tenants import service as tenants
    from offerengine.tenants.schemas import TenantCreate

    code = f"AL{uuid.uuid4().hex[:4].upper()}"
    email = f"owner@{code.lower()}.example"

    async def work(session):  # type: ignore[no-untyped-def]
        tenant = await tenants.create(
            session,
            data=TenantCreate(code=code, name=code, kind="airline", base_currency="USD"),
            actor=ACTOR,
        )
        home = await decisioning.PLACEMENT.editing.create(
            session,
            tenant=tenant,
            data=ds.PlacementIn(name="home", channel="web", content_type="json"),
            actor=ACTOR,
        )
        for porter, rows in (
            (kinds.PRODUCTS, product_rows(objects)),
            (kinds.OFFERS, offer_rows(objects, home.id)),
        ):
            await transfer.import_rows(
                session, tenant=tenant, porter=porter, rows=core.Rows(rows), actor=ACTOR
            )
        await users.create_user(
            session,
            tenant_id=tenant.id,
            email=email,
            role=Role.OWNER,
            password=PASSWORD,
            actor=ACTOR,
        )

    await run_in_transaction(settings, work)
    return email


def timed(client: TestClient, path: str, rounds: int, **headers: str) -> tuple[float, float]:
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        found = client.get(path, headers=headers)
        seconds.append(time.perf_counter() - started)
        if found.status_code != 200:
            raise SystemExit(f"{path}: {found.status_code} {found.text[:300]}")
    return statistics.median(seconds) * 1000, max(seconds) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'lists.db'}"
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
        email = asyncio.run(seed(settings, args.objects))
        print(f"{machine()}; {url.split(':')[0]}; {args.objects:,} products and offers")
        print(f"seeded in {time.perf_counter() - started:.0f} s")
        with TestClient(create_app(settings)) as client:
            page = client.get("/admin/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None
            client.post(
                "/admin/login",
                data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
                follow_redirects=False,
            )
            later = client.get("/admin/products").text
            after = re.search(r'href="(\?[^"]*cursor=[^"]+)" rel="next"', later)
            code = email.split("@")[1].split(".")[0].upper()
            api = f"/v1/admin/tenants/{code}"
            paths = [
                "/admin/products",
                "/admin/products" + (after.group(1).replace("&amp;", "&") if after else ""),
                "/admin/products?type=SEAT",
                "/admin/products?q=P00999",
                "/admin/decision-offers",
                f"{api}/products?count=true",
                f"{api}/products?q=Product%2099&count=true",
                f"{api}/decisioning/offers?count=true",
                f"{api}/decisioning/offers?status=approved&limit=200",
                f"{api}/decisioning/offers?q=offer-00042&count=true",
            ]
            print(f"{'page or list':<60}{'median ms':>10}{'max ms':>9}")
            for path in paths:
                median, slowest = timed(client, path, args.rounds)
                print(f"{path[:59]:<60}{median:>10.1f}{slowest:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
