"""Journeys: round-trip searches with connections over the demo network, in process and over HTTP.

    .venv/bin/python bench/journeys.py [--iterations 2000] [--rounds 3] [--seconds 5] [--no-http]

The demo airline as loaded (51 airports, a week of schedules, three hubs whose spokes connect in
banks). Prints (a) in-process round-trip search latency p50/p99 over 120 distinct round trips
between spokes, cycled (the snapshot built, the counters read once): cold (each search walks the
connection index and prices everything itself) and as served (as a worker serves them: each
journey's itineraries planned once per snapshot, searches with the same party sharing prices
within the availability interval; identical searches do not reuse rankings here), each covering
the offers priced, combined, ranked and shown; (b) candidate itineraries built per second on one
core (the connection walk alone, every slice of the same searches); (c) HTTP throughput of POST
/v1/offers/search with a round trip and with today's one-way shape, each as a ratio to POST
/bench/empty of the same server in the same run (wrk, 1 worker; identical searches reuse their
ranking while counters read the same, as one-way searches do).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time as clock
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _http import FLOOR, Target, compare, demo_database, floor_server, machine, server

from offerengine.db.engine import create_engine
from offerengine.demo import data
from offerengine.recording.writer import Recorder
from offerengine.shopping import core, journeys, ranking
from offerengine.shopping import service as shopping
from offerengine.shopping.stock import scopes_of
from offerengine.snapshots.build import build

# Spoke to spoke across the Atlantic, spoke to hub, and hub to hub: one or two stops mostly.
TRIPS = [
    ("BOS", "CDG"),
    ("IAD", "MUC"),
    ("CLT", "BCN"),
    ("PHL", "DUB"),
    ("DTW", "ZRH"),
    ("YUL", "VIE"),
    ("DEN", "LHR"),
    ("MSP", "CPH"),
    ("PHX", "ARN"),
    ("IAH", "LIS"),
    ("LAS", "JFK"),
    ("SAN", "AMS"),
    ("ATL", "FRA"),
    ("YYZ", "MAD"),
    ("CUN", "EDI"),
    ("BOS", "ORD"),
    ("MEX", "BRU"),
    ("PDX", "MAN"),
    ("SFO", "WAW"),
    ("LAX", "PRG"),
]


def round_trips(count: int) -> list[dict[str, Any]]:
    out_day = datetime.now(UTC).date() + timedelta(days=2)
    back_day = out_day + timedelta(days=4)
    return [
        {
            "slices": [
                {"origin": o, "destination": d, "date": out_day.isoformat()},
                {"origin": d, "destination": o, "date": back_day.isoformat()},
            ],
            "passengers": {"adults": 1 + i % 3, "children": (i // 3) % 2},
            "customer": {"segment": ("leisure", "business")[i % 2]},
            "channel": "web",
        }
        for i in range(count)
        for o, d in [TRIPS[i % len(TRIPS)]]
    ]


def one_ways(count: int) -> list[dict[str, Any]]:
    day = datetime.now(UTC).date() + timedelta(days=2)
    routes = [(r[1], r[2]) for r in data.ROUTES]
    return [
        {
            "origin": routes[i % len(routes)][0],
            "destination": routes[i % len(routes)][1],
            "date": day.isoformat(),
            "passengers": {"adults": 1 + i % 3, "children": (i // 3) % 2},
            "customer": {"segment": ("leisure", "business")[i % 2]},
            "channel": "web",
        }
        for i in range(count)
    ]


async def in_process(env: dict[str, str], iterations: int) -> None:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from offerengine.shopping.schemas import SearchRequest
    from offerengine.tenants.models import Tenant

    engine = create_engine(env["OFFERENGINE_DATABASE_URL"])
    factory = async_sessionmaker(engine, expire_on_commit=False)
    async with factory() as session:
        tenant_id = await session.scalar(sa.select(Tenant.id).where(Tenant.code == "OE"))
        assert tenant_id is not None
        snapshot = await build(session, tenant_id)
    assert snapshot is not None
    config = snapshot.shopping
    airports = {f.origin for f in config.flights.by_id.values()}
    print(
        f"demo network: {len(airports)} airports, {len(config.flights.by_id)} flights, "
        f"connection rules {config.connection_rules.default}"
    )
    runtime = shopping.ShopRuntime(factory, Recorder(factory, is_sqlite=True), stock_seconds=3600)
    searches = [
        ranking.search_of(SearchRequest.model_validate(s), snapshot) for s in round_trips(120)
    ]
    conversion = await runtime.conversion(tenant_id)
    plans = [journeys.planned(snapshot, s) for s in searches]
    stocks = [await runtime.stock(tenant_id, scopes_of(p.flights(), snapshot)) for p in plans]
    await engine.dispose()

    # (b) the connection walk alone
    rules, index = config.connection_rules, config.connections
    built = 0
    started = clock.perf_counter()
    for i in range(iterations):
        built += sum(len(its) for its in core.plan(index, rules, searches[i % 120].slices).by_slice)
    walk = clock.perf_counter() - started
    # (a) the whole search: cold (each search its own memo), then as served (searches with the
    # same party share prices within the availability interval: one pass warms them first)
    for label, shared in (("cold (each search prices everything)", None), ("as served", runtime)):
        if shared is not None:
            for i, search in enumerate(searches):
                journeys.run_journey(
                    snapshot,
                    search,
                    plans[i],
                    stocks[i],
                    conversion,
                    datetime.now(UTC),
                    runtime=shared,
                )
        latencies = []
        offers = connecting = 0
        started = clock.perf_counter()
        for i in range(iterations):
            search = searches[i % len(searches)]
            t0 = clock.perf_counter()
            # As served, a worker plans a journey once per snapshot (ShopRuntime.search_journey).
            plan = journeys.planned(snapshot, search) if shared is None else plans[i % 120]
            done = journeys.run_journey(
                snapshot,
                search,
                plan,
                stocks[i % len(searches)],
                conversion,
                datetime.now(UTC),
                runtime=shared,
            )
            latencies.append(clock.perf_counter() - t0)
            offers += len(done.encoded)
            connecting += sum(1 for its in plan.by_slice for it in its if it.stops)
        seconds = clock.perf_counter() - started
        latencies.sort()
        p50 = statistics.median(latencies) * 1e3
        p99 = latencies[int(len(latencies) * 0.99)] * 1e3
        print(
            f"in-process round-trip search, {label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms over "
            f"{iterations} searches ({iterations / seconds:,.0f} searches/s, one core); "
            f"{offers / iterations:.1f} offers per search; {built / iterations:.1f} candidate "
            f"itineraries per search ({connecting / iterations:.1f} with connections)"
        )
    print(
        f"candidate itineraries built: {built / walk:,.0f}/s on one core "
        f"({walk / iterations * 1e6:.0f} µs per round trip's walk)"
    )


def http(env: dict[str, str], rounds: int, seconds: int, connections: int) -> None:
    key = {"Authorization": f"Bearer {env['DEMO_OE_RUNTIME_KEY']}"}
    trips = [json.dumps(s).encode() for s in round_trips(120)]
    singles = [json.dumps(s).encode() for s in one_ways(120)]
    with server(env, 1) as base, floor_server(1) as floor:
        compare(
            {
                "empty (POST /bench/empty)": Target(f"{base}/bench/empty", bodies=trips),
                FLOOR: Target(floor, bodies=trips),
                "one-way search (nonstops)": Target(
                    f"{base}/v1/offers/search", key, bodies=singles
                ),
                "round trip with connections": Target(
                    f"{base}/v1/offers/search", key, bodies=trips
                ),
            },
            empty="empty (POST /bench/empty)",
            floor=FLOOR,
            rounds=rounds,
            seconds=seconds,
            connections=connections,
            label="workers=1",
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-http", action="store_true", help="in-process figures only")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        env = demo_database(Path(folder))
        asyncio.run(in_process(env, args.iterations))
        if not args.no_http:
            http(env, args.rounds, args.seconds, args.connections)


if __name__ == "__main__":
    main()
