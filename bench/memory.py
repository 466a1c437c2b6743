"""The resident memory of a worker's snapshots: one large tenant, and many small ones.

Run: ``.venv/bin/python bench/memory.py [--offers 100000] [--tenants 1000]``

Each part runs in a fresh process (so one part's freed memory does not hide the next's): it opens
the worker's context on a demo database, notes the process's resident memory (VmRSS), builds and
holds the snapshots as a serving worker's store does, and notes it again. The first figure is what
a worker holds before it serves any tenant (code, libraries, pools); the difference is what the
tenants' compiled configuration costs. Generated data: bench/decide.py's generator (offers,
collections, placements, activities, tags); a small tenant is a marketplace tenant with
``--small-offers`` offers and its share of the other objects.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import decide
import sqlalchemy as sa
from _http import demo_database, machine

from offerengine.context import open_context
from offerengine.observability.metrics import Metrics
from offerengine.snapshots.build import builder
from offerengine.tenants.models import Tenant


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def store_large(env: dict[str, str], offers: int) -> None:
    decide.OFFERS = offers
    ctx = await open_context(decide._settings(env), Metrics())
    try:
        async with ctx.session_factory() as session:
            tenant = await session.scalar(sa.select(Tenant).where(Tenant.code == "OE"))
            assert tenant is not None
            session.add_all(decide.generate(tenant.id, random.Random(7)))
            tenant.config_version += 1
            await session.commit()
    finally:
        await ctx.close()


async def store_small(env: dict[str, str], tenants: int, offers: int) -> None:
    scale = offers / decide.OFFERS
    decide.OFFERS = offers
    decide.COLLECTIONS = max(2, int(decide.COLLECTIONS * scale))
    decide.PLACEMENTS = max(5, int(decide.PLACEMENTS * scale))  # an offer samples 5
    decide.ACTIVITIES = max(2, int(decide.ACTIVITIES * scale))
    decide.TAGS = max(4, int(decide.TAGS * scale))
    ctx = await open_context(decide._settings(env), Metrics())
    rng = random.Random(11)
    try:
        async with ctx.session_factory() as session:
            for n in range(tenants):
                tenant = Tenant(
                    id=uuid.uuid4(),
                    code=f"S{n:04d}",
                    name=f"Small shop {n}",
                    kind="marketplace",
                    base_currency="EUR",
                    timezone="Europe/Berlin",
                    status="active",
                    settings={},
                    country="DE",
                    config_version=1,
                    version=1,
                )
                session.add(tenant)
                await session.flush()  # the tenant's row before the rows that refer to it
                session.add_all(decide.generate(tenant.id, rng))
            await session.commit()
    finally:
        await ctx.close()


async def hold(env: dict[str, str], codes: str) -> dict[str, Any]:
    """In this process: the worker's context, then every named tenant's snapshot held."""
    ctx = await open_context(decide._settings(env), Metrics())
    try:
        async with ctx.session_factory() as session:
            query = sa.select(Tenant.id)
            if codes != "*":
                query = query.where(Tenant.code.in_(codes.split(",")))
            ids = list((await session.scalars(query)).all())
        build = builder(ctx.session_factory)
        gc.collect()
        before = rss_mib()
        began = time.perf_counter()
        held = [await build(tenant_id) for tenant_id in ids]
        took = time.perf_counter() - began
        gc.collect()
        after = rss_mib()
        assert all(s is not None for s in held)
        return {"tenants": len(held), "before": before, "after": after, "seconds": took}
    finally:
        await ctx.close()


def part(env: dict[str, str], codes: str) -> dict[str, Any]:
    """``hold`` in a fresh interpreter."""
    here = str(Path(__file__).resolve().parent)
    script = (
        f"import asyncio, json, sys; sys.path.insert(0, {here!r}); import memory;"
        f"print(json.dumps(asyncio.run(memory.hold(json.loads(sys.argv[1]), {codes!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(env)],
        check=True,
        capture_output=True,
        text=True,
    )
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def report(label: str, found: dict[str, Any]) -> None:
    grown = found["after"] - found["before"]
    print(
        f"  {label}: worker before snapshots {found['before']:.0f} MiB, holding them"
        f" {found['after']:.0f} MiB (+{grown:.0f} MiB; {found['tenants']:,} tenants built in"
        f" {found['seconds']:.1f} s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=1_000)
    parser.add_argument("--small-offers", type=int, default=20)
    args = parser.parse_args()
    load_average = Path("/proc/loadavg").read_text().split()[:3]
    print(f"machine: {machine()}; load average {' '.join(load_average)} at start")
    with tempfile.TemporaryDirectory() as folder:
        env = demo_database(Path(folder))
        asyncio.run(store_large(env, args.offers))
        report(f"one tenant of {args.offers:,} decisioning offers", part(env, "OE"))
    with tempfile.TemporaryDirectory() as folder:
        env = demo_database(Path(folder))
        asyncio.run(store_small(env, args.tenants, args.small_offers))
        report(
            f"{args.tenants:,} small tenants ({args.small_offers} offers each) and the demo's",
            part(env, "*"),
        )


if __name__ == "__main__":
    main()
