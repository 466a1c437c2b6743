"""Bulk import at scale: objects per second per kind and format, in process.

    .venv/bin/python bench/bulk_import.py [--rows 100000] [--database-url URL] [--formats csv,...]

For each kind that imports in bulk (products, decisioning offers, commission rates) and each file
format (JSON, JSON lines, CSV, Parquet), a fresh tenant imports a generated file of ``--rows``
new objects in one transaction, as `offerengine import` and the admin API do; the figure is
rows / (read + check + write + commit) seconds. Then the same products file again (every row
unchanged), and the export of what was imported, streamed in each format.

A fresh migrated SQLite file is used unless ``--database-url`` names another database (a
PostgreSQL one: each run adds tenants named BI…; drop them as you like).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _http import machine

from offerengine.auth.core import Actor, ActorKind
from offerengine.db import migrate
from offerengine.db.engine import create_engine
from offerengine.transfer import core, kinds
from offerengine.transfer import service as transfer

ACTOR = Actor(ActorKind.CLI, None, "bench")


def product_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "product_type": "BAG" if i % 3 else "SEAT",
            "product_code": f"P{i:07d}",
            "name": f"Product {i}",
            "category": f"CAT{i % 50}",
            "base_price": f"{10 + i % 500}.{i % 100:02d}",
            "currency": "USD",
            "metadata": {"weight_kg": i % 30},
            "is_active": True,
        }
        for i in range(n)
    ]


def offer_rows(n: int, placement: uuid.UUID) -> list[dict[str, Any]]:
    return [
        {
            "name": f"offer-{i:07d}",
            "status": "approved",
            "priority": i % 100,
            "tags": [f"t{i % 20}"],
            "representations": [
                {"placement_id": str(placement), "content": {"headline": f"Deal {i}"}}
            ],
            "eligibility": f"profile.tier == 'T{i % 5}'",
            "capping": [{"scope": "profile", "limit": 3}],
            "attributes": {"segment": i % 7},
        }
        for i in range(n)
    ]


def rate_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "commission_type": "PERCENTAGE",
            "rate": f"{1 + i % 20}.5",
            "seller_id": f"S{i:07d}",
            "category": f"CAT{i % 50}",
            "priority": i % 10,
        }
        for i in range(n)
    ]


def encode(rows: list[dict[str, Any]], fmt: core.Format, layout: core.Layout) -> bytes:
    """The rows as a file in ``fmt``, written by the export's writer (what an export gives)."""
    writer = core.Writer(fmt, layout)
    out = io.BytesIO()
    out.write(writer.start())
    for batch in core.batches(rows, 5000):
        out.write(writer.chunk(batch))
    out.write(writer.end())
    return out.getvalue()


async def run(url: str, rows: int, formats: list[core.Format], only: list[str]) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from offerengine.decisioning import schemas as ds
    from offerengine.decisioning import service as decisioning
    from offerengine.tenants import service as tenants
    from offerengine.tenants.schemas import TenantCreate

    engine = create_engine(url, pool_size=2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    class Factory:
        session_factory = sessions
        is_sqlite = engine.dialect.name == "sqlite"

    async def fresh_tenant() -> tuple[Any, uuid.UUID]:
        async with sessions() as session:
            code = f"BI{uuid.uuid4().hex[:6].upper()}"
            tenant = await tenants.create(
                session,
                data=TenantCreate(code=code, name=code, kind="marketplace", base_currency="USD"),
                actor=ACTOR,
            )
            placement = await decisioning.PLACEMENT.editing.create(
                session,
                tenant=tenant,
                data=ds.PlacementIn(name="home", channel="web", content_type="json"),
                actor=ACTOR,
            )
            await session.commit()
            return tenant, placement.id

    async def timed_import(
        porter: kinds.Porter, data: bytes, fmt: core.Format, tenant: Any
    ) -> tuple[float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        async with sessions() as session:
            if engine.dialect.name == "sqlite":
                await session.connection(execution_options={"sqlite_immediate": True})
            done = await transfer.import_file(
                session, tenant=tenant, porter=porter, data=data, fmt=fmt, actor=ACTOR
            )
            await session.commit()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert done.rows == rows, done
        return elapsed, cpu

    print(f"{machine()}; {engine.dialect.name}; {rows:,} rows a file")
    print(
        f"{'kind':<20}{'format':<9}{'MB':>7}{'seconds':>9}{'objects/s':>11}"
        f"{'CPU s':>8}{'objects/CPU s':>15}"
    )
    makers: dict[str, Callable[[uuid.UUID], list[dict[str, Any]]]] = {
        "products": lambda _: product_rows(rows),
        "decisioning-offers": lambda placement: offer_rows(rows, placement),
        "commission-rates": lambda _: rate_rows(rows),
    }
    last_products: tuple[Any, bytes, core.Format] | None = None
    for path, make in makers.items():
        if path not in only:
            continue
        porter = kinds.PORTERS[path]
        for fmt in formats:
            tenant, placement = await fresh_tenant()
            data = encode(make(placement), fmt, porter.layout)
            elapsed, cpu = await timed_import(porter, data, fmt, tenant)
            print(
                f"{path:<20}{fmt:<9}{len(data) / 1e6:>7.1f}{elapsed:>9.2f}{rows / elapsed:>11,.0f}"
                f"{cpu:>8.2f}{rows / cpu:>15,.0f}",
                flush=True,
            )
            if path == "products":
                last_products = (tenant, data, fmt)
    if last_products is not None:
        tenant, data, fmt = last_products
        elapsed, cpu = await timed_import(kinds.PRODUCTS, data, fmt, tenant)
        print(
            f"{'products unchanged':<20}{fmt:<9}{len(data) / 1e6:>7.1f}{elapsed:>9.2f}"
            f"{rows / elapsed:>11,.0f}{cpu:>8.2f}{rows / cpu:>15,.0f}"
        )
        for out_fmt in formats:
            started, cpu = time.perf_counter(), time.process_time()
            size = 0
            async for part in transfer.export(
                Factory(), tenant_id=tenant.id, porter=kinds.PRODUCTS, fmt=out_fmt
            ):
                size += len(part)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(
                f"{'products export':<20}{out_fmt:<9}{size / 1e6:>7.1f}{elapsed:>9.2f}"
                f"{rows / elapsed:>11,.0f}{cpu:>8.2f}{rows / cpu:>15,.0f}"
            )
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--formats", default=",".join(core.FORMATS))
    parser.add_argument("--kinds", default=",".join(kinds.PORTERS))
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f in core.FORMATS]
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url
        if not url:
            url = f"sqlite:///{Path(folder) / 'bulk.db'}"
            migrate.upgrade(url)
        asyncio.run(run(url, args.rows, formats, args.kinds.split(",")))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
