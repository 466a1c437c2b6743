"""Decisioning: in-process decision latency and HTTP decision throughput on a large tenant.

    .venv/bin/python bench/decide.py [--rounds 3] [--seconds 5] [--iterations 2000]

A tenant of the issue's size is generated into the demo database: 10,000 offers (80 % with an
eligibility rule over profile and context, 10 % with a per-profile cap), 200 collections (by two
tags each), 50 placements, 100 activities (half ranked by priority, half by a formula). Prints
(a) in-process p50/p99 of a decision for 1, 3 and 30 activities — dry runs (the funnel alone) and
recorded decisions (caps counted and decision events written, one SQLite transaction each);
(b) HTTP throughput of POST /v1/decisions for 3 activities as a ratio to POST /bench/empty of the
same server in the same run, with 1 and 2 workers; (c) batch decisioning (`decide-batch`) of
--profiles generated profiles for 3 activities: profiles per second ranked and allocated (the
counters read included), in-process and, with --dask, on a local Dask cluster of 2 workers; and
the time taken to count and record them.

    .venv/bin/python bench/decide.py --parts batch --profiles 200000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import urllib.request
import uuid
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from _http import FLOOR, Target, compare, demo_database, floor_server, machine, server

from offerengine.context import open_context
from offerengine.db.base import utcnow
from offerengine.decisioning import batch, runtime
from offerengine.decisioning import schemas as s
from offerengine.decisioning.models import DecisioningObject
from offerengine.observability.metrics import Metrics
from offerengine.settings import Settings
from offerengine.snapshots.build import build
from offerengine.tenants.models import Tenant

OFFERS, COLLECTIONS, PLACEMENTS, ACTIVITIES, TAGS = 10_000, 200, 50, 100, 400
TIERS = ["BASIC", "SILVER", "GOLD", "PLATINUM"]
RULES = [
    "profile.tier in ['GOLD', 'PLATINUM']",
    "context.days_to_departure <= {n}",
    "profile.age >= {n} and context.channel == 'web'",
    "profile.trips_per_year >= {m}",
    "context.origin in ['JFK', 'LHR', 'CDG'] or profile.tier == 'PLATINUM'",
]


def decisioning_row(tenant: uuid.UUID, kind: str, body: s.Config) -> DecisioningObject:
    """A decisioning object row as the API would store it (validated by its schema)."""
    values = body.model_dump(mode="json")
    now = utcnow()
    return DecisioningObject(
        id=uuid.uuid4(),
        tenant_id=tenant,
        kind=kind,
        name=values.pop("name"),
        status=values.pop("status"),
        body=values,
        version=1,
        created_at=now,
        updated_at=now,
    )


def generate(tenant: uuid.UUID, rng: random.Random) -> list[DecisioningObject]:
    """The objects, validated by their schemas as the API would."""
    placements = [
        decisioning_row(
            tenant, "placement", s.PlacementIn(name=f"P{i}", channel="web", content_type="json")
        )
        for i in range(PLACEMENTS)
    ]
    pids = [p.id for p in placements]
    offers = []
    for i in range(OFFERS):
        rule = None
        if rng.random() < 0.8:
            rule = rng.choice(RULES).format(n=rng.randint(3, 60), m=rng.randint(1, 12))
        caps = []
        if rng.random() < 0.1:
            caps = [
                s.CapRule(scope="profile", limit=3, window=s.Window(type="calendar", unit="day"))
            ]
        offers.append(
            decisioning_row(
                tenant,
                "offer",
                s.OfferIn(
                    name=f"Offer {i}",
                    status="approved",
                    priority=rng.randint(0, 1000),
                    tags=[f"t{rng.randrange(TAGS)}" for _ in range(3)],
                    representations=[
                        s.Representation(placement_id=p, content={"headline": f"Offer {i}"})
                        for p in rng.sample(pids, 5)
                    ],
                    eligibility=rule,
                    capping=caps,
                    value=rng.randint(10, 500),
                    cost=rng.randint(0, 50),
                ),
            )
        )
    fallback = decisioning_row(
        tenant,
        "fallback_offer",
        s.FallbackOfferIn(
            name="Fallback",
            representations=[s.Representation(placement_id=p, content={"h": "hi"}) for p in pids],
        ),
    )
    collections = [
        decisioning_row(
            tenant,
            "collection",
            s.CollectionIn(name=f"C{i}", tags=[f"t{rng.randrange(TAGS)}" for _ in range(2)]),
        )
        for i in range(COLLECTIONS)
    ]
    formula = decisioning_row(
        tenant,
        "ranking_formula",
        s.RankingFormulaIn(name="Margin", expression="offer.value - offer.cost"),
    )
    activities = [
        decisioning_row(
            tenant,
            "activity",
            s.ActivityIn(
                name=f"A{i}",
                status="approved",
                placement_id=rng.choice(pids),
                collection_id=rng.choice(collections).id,
                fallback_offer_id=fallback.id,
                ranking=s.Ranking(method="formula", formula_id=formula.id)
                if i % 2
                else s.Ranking(),
            ),
        )
        for i in range(ACTIVITIES)
    ]
    return [*placements, *offers, fallback, *collections, formula, *activities]


def requests(
    activities: list[str], rng: random.Random, size: int, count: int
) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        out.append(
            {
                "profile": {
                    "id": f"p{i}",
                    "attributes": {
                        "tier": rng.choice(TIERS),
                        "age": rng.randint(18, 80),
                        "trips_per_year": rng.randint(0, 12),
                    },
                },
                "context": {
                    "days_to_departure": rng.randint(0, 90),
                    "channel": rng.choice(["web", "mobile"]),
                    "origin": rng.choice(["JFK", "BOS", "LHR", "ORD"]),
                },
                "activities": rng.sample(activities, size),
            }
        )
    return out


def _settings(env: dict[str, str]) -> Settings:
    return Settings(
        database_url=env["OFFERENGINE_DATABASE_URL"],
        redis_url=env.get("OFFERENGINE_REDIS_URL"),
        redis_prefix=env.get("OFFERENGINE_REDIS_PREFIX", "offerengine"),
    )


async def prepare(env: dict[str, str]) -> tuple[list[str], uuid.UUID]:
    ctx = await open_context(_settings(env), Metrics())
    try:
        async with ctx.session_factory() as session:
            tenant = await session.scalar(sa.select(Tenant).where(Tenant.code == "OE"))
            assert tenant is not None
            objects = generate(tenant.id, random.Random(7))
            session.add_all(objects)
            tenant.config_version += 1
            await session.commit()
            return [str(o.id) for o in objects if o.kind == "activity"], tenant.id
    finally:
        await ctx.close()


async def in_process(
    env: dict[str, str], activities: list[str], tenant_id: uuid.UUID, n: int
) -> None:
    ctx = await open_context(_settings(env), Metrics())
    try:
        async with ctx.session_factory() as session:
            started = time.perf_counter()
            snapshot = await build(session, tenant_id)
            assert snapshot is not None
        index = snapshot.decisioning
        sizes = [len(a.candidates) for a in index.activities.values()]
        print(
            f"snapshot: {len(index.offers):,} offers, {len(index.activities)} activities, "
            f"candidates per activity median {statistics.median(sizes):.0f} max {max(sizes)}; "
            f"built in {time.perf_counter() - started:.2f} s"
        )
        rng = random.Random(11)
        for size in (1, 3, 30):
            for dry_run in (True, False):
                bodies = [
                    s.DecisionRequest.model_validate({**body, "dry_run": dry_run})
                    for body in requests(activities, rng, size, 200)
                ]
                times = []
                for i in range(n if size < 30 else n // 4):
                    began = time.perf_counter()
                    await runtime.decide(ctx, snapshot, bodies[i % len(bodies)], utcnow())
                    times.append(time.perf_counter() - began)
                times.sort()
                p50 = times[len(times) // 2] * 1000
                p99 = times[int(len(times) * 0.99)] * 1000
                kind = "dry run " if dry_run else "recorded"
                print(f"  {size:>2} activities, {kind}: p50 {p50:.2f} ms  p99 {p99:.2f} ms")
    finally:
        await ctx.close()


def _profiles(n: int, rng: random.Random) -> pa.Table:
    return pa.table(
        {
            "profile_id": [f"b{i}" for i in range(n)],
            "tier": [rng.choice(TIERS) for _ in range(n)],
            "age": [rng.randint(18, 80) for _ in range(n)],
            "trips_per_year": [rng.randint(0, 12) for _ in range(n)],
            "context.days_to_departure": [rng.randint(0, 90) for _ in range(n)],
            "context.channel": [rng.choice(["web", "mobile"]) for _ in range(n)],
            "context.origin": [rng.choice(["JFK", "BOS", "LHR", "ORD"]) for _ in range(n)],
        }
    )


async def batches(
    env: dict[str, str],
    activities: list[str],
    tenant_id: uuid.UUID,
    n: int,
    rounds: int,
    scheduler: str | None,
) -> None:
    ctx = await open_context(_settings(env), Metrics())
    table = _profiles(n, random.Random(3))
    chosen = activities[:3]  # one ranked by priority, one by formula, one by priority
    where = f"Dask {scheduler}" if scheduler else "in-process"
    try:
        with tempfile.TemporaryDirectory() as folder:
            for dry_run in (True, False):
                rates, records = [], []
                for i in range(rounds if dry_run else 1):
                    counters = batch.SqlBatchCounters(
                        ctx.session_factory, tenant_id, utcnow(), is_sqlite=ctx.is_sqlite
                    )
                    outcome = await batch.decide_batch(
                        ctx.session_factory,
                        counters,
                        tenant_id=tenant_id,
                        settings={},
                        activities=chosen,
                        table=table,
                        out=Path(folder) / f"out{i}.parquet",
                        now=utcnow(),
                        dry_run=dry_run,
                        scheduler=scheduler,
                    )
                    rates.append(outcome.profiles_per_second)
                    records.append(outcome.record_seconds)
                kind = "dry run " if dry_run else "recorded"
                print(
                    f"  batch {where}, {n:,} profiles x 3 activities, {kind}: "
                    f"{statistics.median(rates):,.0f} profiles/s ranked and allocated "
                    f"(median of {len(rates)}); then {statistics.median(records):.1f} s "
                    f"{'writing the file' if dry_run else 'counting, recording, writing'}"
                )
    finally:
        await ctx.close()


def warm_up(url: str, key: dict[str, str], body: bytes, workers: int) -> None:
    """Every worker compiles the tenant's snapshot on its first decision: not part of the run."""
    for _ in range(8 * workers):
        request = urllib.request.Request(
            url, data=body, headers={**key, "Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()


def main() -> None:
    global OFFERS  # the generator reads it
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument(
        "--redis", default=None, help="keep cap counters in this Redis (redis://127.0.0.1:6379/0)"
    )
    parser.add_argument("--parts", default="in-process,http,batch")
    parser.add_argument(
        "--offers", type=int, default=OFFERS, help="decisioning offers generated (10,000)"
    )
    parser.add_argument(
        "--workers", default="1,2", help="server processes to measure, comma-separated"
    )
    parser.add_argument("--profiles", type=int, default=200_000, help="batch size")
    parser.add_argument("--dask", action="store_true", help="also rank the batch on Dask")
    parser.add_argument(
        "--baseline",
        help="another checkout's src folder: also serve its code and measure it in the same run",
    )
    args = parser.parse_args()
    OFFERS = args.offers
    parts = set(args.parts.split(","))
    print(f"machine: {machine()}")
    print(f"cap counters: {'Redis ' + args.redis if args.redis else 'SQLite'}")
    print(f"tenant: {OFFERS:,} offers, {ACTIVITIES} activities")
    with tempfile.TemporaryDirectory() as folder:
        env = demo_database(Path(folder))
        if args.redis:
            env["OFFERENGINE_REDIS_URL"] = args.redis
            env["OFFERENGINE_REDIS_PREFIX"] = f"oe-bench-{uuid.uuid4().hex[:8]}"
            # Records go onto Redis streams; consumers run on other hosts in production, so the
            # API is measured with none running (the consumer's own rate: bench/records.py).
            env["OFFERENGINE_EMBEDDED_CONSUMER"] = "false"
        activities, tenant_id = asyncio.run(prepare(env))
        if "in-process" in parts:
            asyncio.run(in_process(env, activities, tenant_id, args.iterations))
        if "batch" in parts:
            asyncio.run(batches(env, activities, tenant_id, args.profiles, args.rounds, None))
            if args.dask:
                from distributed import LocalCluster

                with LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
                ) as cluster:
                    asyncio.run(
                        batches(
                            env,
                            activities,
                            tenant_id,
                            args.profiles,
                            args.rounds,
                            cluster.scheduler_address,
                        )
                    )
        key = {"Authorization": f"Bearer {env['DEMO_OE_RUNTIME_KEY']}"}
        rng = random.Random(5)
        # Dry runs and recorded decisions in the same server, round by round: their ratio is the
        # cost of recording (and of counting caps), on the same machine weather.
        made = requests(activities, rng, 3, 200)
        bodies = {
            dry_run: [json.dumps({**b, "dry_run": dry_run}).encode() for b in made]
            for dry_run in (True, False)
        }
        for workers in [int(w) for w in args.workers.split(",")] if "http" in parts else ():
            with (
                server(env, workers) as base,
                floor_server(workers) as floor,
                server(env, workers, args.baseline) if args.baseline else nullcontext() as before,
            ):
                warm_up(f"{base}/v1/decisions", key, bodies[False][0], workers)
                baseline = (
                    {
                        "  the same, recorded, baseline checkout": Target(
                            f"{before}/v1/decisions", key, bodies=bodies[False]
                        )
                    }
                    if before
                    else {}
                )
                if before:
                    warm_up(f"{before}/v1/decisions", key, bodies[False][0], workers)
                compare(
                    {
                        "empty (POST /bench/empty)": Target(
                            f"{base}/bench/empty", bodies=bodies[True]
                        ),
                        FLOOR: Target(floor, bodies=bodies[True]),
                        "POST /v1/decisions, 3 activities, dry runs": Target(
                            f"{base}/v1/decisions", key, bodies=bodies[True]
                        ),
                        "POST /v1/decisions, 3 activities, recorded": Target(
                            f"{base}/v1/decisions", key, bodies=bodies[False]
                        ),
                        **baseline,
                    },
                    empty="empty (POST /bench/empty)",
                    floor=FLOOR,
                    rounds=args.rounds,
                    seconds=args.seconds,
                    connections=args.connections,
                    label=f"workers={workers}",
                )


if __name__ == "__main__":
    main()
