"""Shopping: in-process search latency, offers per second, and HTTP search throughput.

    .venv/bin/python bench/shop.py [--rounds 3] [--seconds 5]

The demo airline is grown to the issue's size through the admin API: 50 routes (flights every day
for a week), 10 pricing rules, 5 bundle templates, 20 ancillaries. Prints (a) in-process search
latency p50/p99 (snapshot already built; live counters read through the worker's cache, as the
server does), cold (every search prices everything) and as served (searches with the same party,
customer, channel and currency share prices and items within the availability interval; 200
distinct searches cycled); (b) offers generated per second: candidate offers priced (every flight ×
offer type of a search, each fully priced, bundled, taxed and scored) and offers returned, on one
core and on both (two processes searching at once), and over HTTP; (c) HTTP throughput
of POST /v1/offers/search with a runtime key, as a ratio to POST /bench/empty of the same server in
the same run, with 1 and 2 workers: 150 distinct searches cycled (identical searches reuse their
ranked offers while inventory reads the same, up to OFFERENGINE_SHOP_RESULT_SECONDS), and searches
that are all new (a context fact of their own: nothing reused, every offer priced and stored).

    .venv/bin/python bench/shop.py --limits [--rounds 5] [--iterations 1000]

compares in-process searches with booking limits active and without, on the same grown tenant: a
forecast is stored for every coming flight's cabins (four nested fare families, EMSR-b limits on
demand proportional to the cabin), and rounds alternate between the counters read with their
controls and the same counters without them (the machine may be busy: rounds are interleaved and
medians reported), with the worker's refresh of counters (and the forecasts' version) timed likewise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time as clock
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from _http import FLOOR, Target, compare, demo_database, floor_server, machine, server

from offerengine.db.engine import create_engine
from offerengine.network.core import lookup
from offerengine.recording.writer import Recorder
from offerengine.shopping import ranking, reuse, stock
from offerengine.shopping import service as shopping
from offerengine.snapshots.build import build

EXTRA_AIRPORTS = [
    "YYZ",
    "AMS",
    "FRA",
    "MAD",
    "FCO",
    "DXB",
    "SIN",
    "SFO",
    "SEA",
    "MIA",
    "ATL",
    "DFW",
]
EXTRA_ANCILLARIES = [
    ("BAG", "BAG-SPORTS", "Sports equipment", "SPORTS", "75.00"),
    ("MEAL", "MEAL-VEGAN", "Vegan hot meal", "HOT", "19.00"),
    ("MEAL", "MEAL-KIDS", "Kids meal", "KIDS", "12.00"),
    ("SEAT", "SEAT-EXIT", "Exit row seat", "EXTRA_LEGROOM", "55.00"),
    ("WIFI", "WIFI-MESSAGING", "Messaging Wi-Fi", "MESSAGING", "5.00"),
    ("INSURANCE", "INS-CANCEL", "Cancellation cover", "CANCEL", "19.00"),
    ("PRIORITY", "PRIORITY-CHECKIN", "Priority check-in", "CHECKIN", "8.00"),
]
EXTRA_BUNDLES = [
    ("Light", "LIGHT", [{"type": "BAG", "category": "CABIN", "required": True}], "5"),
    (
        "Family",
        "FAMILY",
        [
            {"type": "SEAT", "category": "STANDARD", "required": True},
            {"type": "MEAL", "category": "KIDS", "required": False},
            {"type": "BAG", "category": "CHECKED", "required": False},
        ],
        "12",
    ),
    (
        "Business traveller",
        "FLEX",
        [
            {"type": "WIFI", "required": False},
            {"type": "PRIORITY", "category": "CHECKIN", "required": False},
            {"type": "INSURANCE", "category": "CANCEL", "required": True},
        ],
        "8",
    ),
]
EXTRA_RULES = [
    ("Weekend", {"departure_weekday": {"in": ["SAT", "SUN"]}}, "1.08"),
    ("Business demand", {"cabin_class": "BUSINESS"}, "1.05"),
    ("Early bird", {"days_until_departure": {"min": 60}}, "0.9"),
    ("Agents", {"channel": "agent"}, "1.02"),
    ("Gold tier", {"customer.tier": "GOLD"}, "0.97"),
    ("Transatlantic", {"route": {"in": ["JFK-LHR", "LHR-JFK", "BOS-LHR", "LHR-BOS"]}}, "1.04"),
    ("Big party", {"passengers": {"min": 5}}, "0.95"),
]


def _post(base: str, key: str, path: str, body: Any, method: str = "POST") -> Any:
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


def _zone(iata: str) -> str:
    found = lookup(iata)
    assert found is not None
    return found.timezone


def grow(base: str, editor: str) -> list[tuple[str, str]]:
    """Add routes, rules, bundles and ancillaries up to the issue's size; the routes served."""
    today = datetime.now(UTC).date()
    routes: list[tuple[str, str]] = []
    number = 200
    hubs = ["JFK", "LHR", "ORD"]
    for hub in hubs:
        for other in EXTRA_AIRPORTS:
            if len(routes) >= 30:
                break
            for origin, destination in ((hub, other), (other, hub)):
                if len(routes) >= 30:
                    break
                departs = datetime.combine(today, time(10), ZoneInfo(_zone(origin)))
                arrives = (departs + timedelta(hours=8)).astimezone(ZoneInfo(_zone(destination)))
                _post(
                    base,
                    editor,
                    "/v1/admin/tenants/OE/schedules",
                    {
                        "carrier": "OE",
                        "flight_number": str(number),
                        "origin": origin,
                        "destination": destination,
                        "departure_time": "10:00",
                        "arrival_time": arrives.strftime("%H:%M"),
                        "arrival_day_offset": (arrives.date() - today).days,
                        "cabins": {"BUSINESS": 40, "PREMIUM_ECONOMY": 24, "ECONOMY": 200},
                        "start_date": today.isoformat(),
                        "end_date": (today + timedelta(days=7)).isoformat(),
                    },
                )
                routes.append((origin, destination))
                number += 1
    for product_type, code, name, category, price in EXTRA_ANCILLARIES:
        _post(
            base,
            editor,
            "/v1/admin/tenants/OE/products",
            {
                "product_type": product_type,
                "product_code": code,
                "name": name,
                "category": category,
                "base_price": price,
                "cost": "1.00",
            },
        )
    for name, bundle_type, lines, discount in EXTRA_BUNDLES:
        _post(
            base,
            editor,
            "/v1/admin/tenants/OE/bundles",
            {
                "bundle_name": name,
                "bundle_type": bundle_type,
                "product_types": [{"type": "FLIGHT", "required": True}, *lines],
                "discount_percentage": discount,
            },
        )
    for i, (name, condition, value) in enumerate(EXTRA_RULES):
        _post(
            base,
            editor,
            "/v1/admin/tenants/OE/pricing-rules",
            {
                "rule_name": name,
                "rule_type": "CUSTOM",
                "conditions": condition,
                "adjustments": {"type": "MULTIPLIER", "value": value},
                "priority": 40 + i,
            },
        )
    rules = _post(base, editor, "/v1/admin/tenants/OE/offer-rules", None, method="GET")
    offer_types = [*rules["offer_types"]] + [
        {"type": t, "priority": 4 + i, "always_include": False}
        for i, t in enumerate(("LIGHT", "FAMILY", "FLEX"))
    ]
    _post(
        base,
        editor,
        "/v1/admin/tenants/OE/offer-rules",
        {
            **{
                k: rules[k]
                for k in ("rule_name", "max_offers", "ranking_weights", "expiry_minutes")
            },
            "offer_types": offer_types,
        },
        method="PUT",
    )
    return routes


FAMILIES_PATH = "/v1/admin/tenants/OE/fare-family-sets"
FAMILY_SET = {
    "cabin": "ECONOMY",
    "families": [
        {
            "code": "FLEX",
            "name": "Flex",
            "multiplier": "1.6",
            "attributes": {"checked_bags": 2, "changes": "free", "refunds": "full"},
        },
        {
            "code": "STANDARD",
            "name": "Standard",
            "multiplier": "1",
            "attributes": {"checked_bags": 1, "changes": "fee", "change_fee": "75.00"},
        },
        {"code": "BASIC", "name": "Basic", "multiplier": "0.8", "attributes": {"carry_on": False}},
    ],
}


def searches(routes: list[tuple[str, str]], count: int) -> list[dict[str, Any]]:
    day = datetime.now(UTC).date() + timedelta(days=3)
    return [
        {
            "origin": routes[i % len(routes)][0],
            "destination": routes[i % len(routes)][1],
            "date": day.isoformat(),
            "passengers": {"adults": 1 + i % 3, "children": i % 2},
            "customer": {"segment": ("leisure", "business")[i % 2], "tier": "GOLD"},
            "channel": "web",
        }
        for i in range(count)
    ]


async def _prepare(env: dict[str, str], routes: list[tuple[str, str]]) -> tuple[Any, ...]:
    """The demo airline's snapshot, a shop runtime on it, 200 searches, its conversion and each
    search's counters as read now; and the engine (the caller disposes of it)."""
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
    runtime = shopping.ShopRuntime(factory, Recorder(factory, is_sqlite=True), stock_seconds=3600)
    requests = [
        ranking.search_of(SearchRequest.model_validate(s), snapshot) for s in searches(routes, 200)
    ]
    conversion = await runtime.conversion(tenant_id)
    stocks = []
    for search in requests:
        flights = snapshot.shopping.flights.find(search.origin, search.destination, search.day)
        stocks.append(await runtime.stock(tenant_id, stock.scopes_of(flights, snapshot)))
    return engine, snapshot, runtime, requests, conversion, stocks


async def in_process(
    env: dict[str, str],
    routes: list[tuple[str, str]],
    iterations: int,
    *,
    start_at: float | None = None,
    quiet: bool = False,
) -> dict[str, tuple[float, float]]:
    """Search latency and offers per second on one core, cold and as served; with ``start_at``
    (a ``time.time()``), the searches begin then (so that two processes run them at once)."""
    engine, snapshot, runtime, requests, conversion, stocks = await _prepare(env, routes)
    await engine.dispose()
    if start_at is not None:
        await asyncio.sleep(max(0.0, start_at - clock.time()))
    rates: dict[str, tuple[float, float]] = {}
    for label, shared in (("cold (each search prices everything)", None), ("as served", runtime)):
        if shared is not None:
            shared.results = reuse.ResultCache(0)  # no reuse of identical searches here
        latencies = []
        candidates = returned = 0
        started = clock.perf_counter()
        for i in range(iterations):
            search = requests[i % len(requests)]
            t0 = clock.perf_counter()
            done = ranking.run_search(
                snapshot,
                search,
                stocks[i % len(requests)],
                conversion,
                datetime.now(UTC),
                runtime=shared,
            )
            latencies.append(clock.perf_counter() - t0)
            returned += len(done.encoded)
            flights = snapshot.shopping.flights.find(search.origin, search.destination, search.day)
            candidates += len(flights) * len(
                snapshot.shopping.rules.types(snapshot.shopping.bundles)
            )
        seconds = clock.perf_counter() - started
        latencies.sort()
        p50 = statistics.median(latencies) * 1e3
        p99 = latencies[int(len(latencies) * 0.99)] * 1e3
        rates[label] = (candidates / seconds, returned / seconds)
        if not quiet:
            print(
                f"in-process search, {label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms over "
                f"{iterations} searches; {candidates / seconds:,.0f} candidate offers priced/s, "
                f"{returned / seconds:,.0f} offers returned/s (one core)"
            )
    return rates


def _one_core(
    env: dict[str, str], routes: list[tuple[str, str]], iterations: int, start_at: float
) -> dict[str, tuple[float, float]]:
    return asyncio.run(in_process(env, routes, iterations, start_at=start_at, quiet=True))


def both_cores(env: dict[str, str], routes: list[tuple[str, str]], iterations: int) -> None:
    """Offers per second on this machine's two cores: two processes searching at once."""
    start_at = clock.time() + 10
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        jobs = [pool.submit(_one_core, env, routes, iterations, start_at) for _ in range(2)]
        found = [job.result() for job in jobs]
    for label in found[0]:
        candidates = sum(f[label][0] for f in found)
        returned = sum(f[label][1] for f in found)
        print(
            f"in-process search, {label}, two processes at once: {candidates:,.0f} candidate "
            f"offers priced/s, {returned:,.0f} offers returned/s (two cores)"
        )


async def store_forecasts(env: dict[str, str]) -> int:
    """A forecast for every cabin of the tenant's coming flights, as a forecast run stores it:
    four nested families, EMSR-b limits and a bid price on demand proportional to the cabin."""
    import uuid
    from decimal import Decimal

    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from offerengine import money
    from offerengine.inventory.models import Flight
    from offerengine.revenue.core.plan import plan
    from offerengine.revenue.models import RevenueForecast, RevenueForecastFamily
    from offerengine.tenants.models import Tenant

    codes = ("FLEX", "STANDARD", "SAVER", "PROMO")
    multipliers = (Decimal("2.1"), Decimal("1.3"), Decimal("1"), Decimal("0.55"))
    shares = (0.1, 0.2, 0.3, 0.4)
    engine = create_engine(env["OFFERENGINE_DATABASE_URL"])
    factory = async_sessionmaker(engine, expire_on_commit=False)
    heads, rows = [], []
    async with factory.begin() as session:
        tenant_id = await session.scalar(sa.select(Tenant.id).where(Tenant.code == "OE"))
        flights = (
            await session.scalars(
                sa.select(Flight).where(
                    Flight.tenant_id == tenant_id, Flight.departure_at >= datetime.now(UTC)
                )
            )
        ).all()
        now = datetime.now(UTC)
        for flight in flights:
            for cabin, capacity in flight.cabins.items():
                means = [capacity * share for share in shares]
                made = plan(
                    codes,
                    [Decimal(200) * m for m in multipliers],
                    [0, 0, 0, 0],
                    means,
                    [m * 0.3 for m in means],
                    int(capacity),
                    Decimal("0.01"),
                )
                forecast_id = uuid.uuid4()
                bid = made.bid_price
                heads.append(
                    {
                        "id": forecast_id,
                        "tenant_id": tenant_id,
                        "flight_id": flight.id,
                        "cabin": cabin,
                        "capacity": int(capacity),
                        "seats_left": made.seats_left,
                        "days_before": 3,
                        "bid_price_minor": None if bid is None else money.to_minor(bid, "USD"),
                        "currency": "USD",
                        "inputs_version": "bench",
                        "config_id": None,
                        "config_version": None,
                        "history_departures": 0,
                        "held_out": None,
                        "mape": None,
                        "bias": None,
                        "fitted_at": now,
                    }
                )
                for position, f in enumerate(made.families):
                    rows.append(
                        {
                            "id": uuid.uuid4(),
                            "forecast_id": forecast_id,
                            "position": position,
                            "code": f.code,
                            "name": f.code.title(),
                            "multiplier": multipliers[position],
                            "fare_minor": money.to_minor(f.fare, "USD"),
                            "booked": 0,
                            "demand_mean": f.mean,
                            "demand_sd": f.sd,
                            "protection": f.protection,
                            "booking_limit": f.limit,
                        }
                    )
        await session.execute(sa.insert(RevenueForecast), heads)
        await session.execute(sa.insert(RevenueForecastFamily), rows)
    await engine.dispose()
    return len(heads)


async def limits_compared(
    env: dict[str, str], routes: list[tuple[str, str]], iterations: int, rounds: int
) -> None:
    """In-process searches with limits active and without, rounds interleaved: medians of
    searches per second and of p50/p99 latency; and the worker's refresh of counters."""
    import dataclasses

    from sqlalchemy.ext.asyncio import async_sessionmaker

    from offerengine.inventory import stock as inventory
    from offerengine.revenue import limits

    engine, snapshot, _, requests, conversion, with_limits = await _prepare(env, routes)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    tenant_id = snapshot.tenant.id
    controlled = sum(1 for m in with_limits for v in m.values() if v.controls is not None)
    without = [
        {k: dataclasses.replace(v, controls=None) for k, v in m.items()} for m in with_limits
    ]

    async def refresh(with_controls: bool) -> float:
        """A worker's refresh: the counters, and with limits the forecasts' version (the
        controls themselves are read again only when it changed)."""
        began = clock.perf_counter()
        async with factory() as session:
            await inventory.read_coming_stock(session, tenant_id)
            if with_controls:
                await limits.forecasts_version(session, tenant_id)
        return clock.perf_counter() - began

    async def read_controls() -> float:
        began = clock.perf_counter()
        async with factory() as session:
            await limits.read_coming_controls(session, tenant_id)
        return clock.perf_counter() - began

    full = statistics.median([await read_controls() for _ in range(5)])
    figures: dict[str, list[tuple[float, float, float]]] = {"without": [], "with limits": []}
    refreshes: dict[str, list[float]] = {"without": [], "with limits": []}
    for r in range(rounds):
        order = ("without", "with limits") if r % 2 == 0 else ("with limits", "without")
        for label in order:
            stocks = with_limits if label == "with limits" else without
            refreshes[label].append(
                statistics.median([await refresh(label == "with limits") for _ in range(5)])
            )
            latencies = []
            started = clock.perf_counter()
            for i in range(iterations):
                t0 = clock.perf_counter()
                ranking.run_search(
                    snapshot,
                    requests[i % len(requests)],
                    stocks[i % len(requests)],
                    conversion,
                    datetime.now(UTC),
                )
                latencies.append(clock.perf_counter() - t0)
            seconds = clock.perf_counter() - started
            latencies.sort()
            figures[label].append(
                (
                    iterations / seconds,
                    statistics.median(latencies) * 1e3,
                    latencies[int(len(latencies) * 0.99)] * 1e3,
                )
            )
    await engine.dispose()
    print(
        f"limits compared: {controlled} cabins with controls in the searches' counters; reading "
        f"every coming cabin's controls (after a forecast): {full * 1e3:.1f} ms"
    )
    for label, found in figures.items():
        rate = statistics.median(f[0] for f in found)
        p50 = statistics.median(f[1] for f in found)
        p99 = statistics.median(f[2] for f in found)
        spread = ", ".join(f"{f[0]:,.0f}" for f in found)
        print(
            f"  {label:>11}: {rate:,.0f} searches/s (rounds: {spread}); p50 {p50:.2f} ms, "
            f"p99 {p99:.2f} ms (cold: every search prices everything); refresh of counters "
            f"{statistics.median(refreshes[label]) * 1e3:.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--limits", action="store_true", help="compare with limits active only")
    parser.add_argument(
        "--families",
        action="store_true",
        help="give every route's economy cabin a fare family set (offers show its grid)",
    )
    parser.add_argument("--in-process", action="store_true", help="in-process figures only")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        env = demo_database(Path(folder))
        with server(env, 1) as base:
            routes = grow(base, env["DEMO_OE_EDITOR_KEY"])
            if args.families:
                _post(base, env["DEMO_OE_EDITOR_KEY"], FAMILIES_PATH, FAMILY_SET)
                print("fare families: an all-routes ECONOMY set of three (offers show the grid)")
        routes += [("JFK", "LHR"), ("LHR", "JFK"), ("JFK", "CDG"), ("BOS", "LHR"), ("ORD", "LHR")]
        print(f"tenant OE: {len(routes) + 15} routes, 10 pricing rules, 5 bundles, 20 ancillaries")
        if args.limits:
            print(f"forecasts stored: {asyncio.run(store_forecasts(env))} cabins")
            asyncio.run(limits_compared(env, routes, args.iterations, args.rounds))
            return
        asyncio.run(in_process(env, routes, args.iterations))
        if args.in_process:
            return
        both_cores(env, routes, args.iterations)
        key = {"Authorization": f"Bearer {env['DEMO_OE_RUNTIME_KEY']}"}
        # 150 distinct searches (50 routes × party sizes and segments), cycled by wrk: identical
        # searches within a second reuse their ranked offers (the availability cache interval).
        bodies = [json.dumps(s).encode() for s in searches(routes, 150)]
        # And searches that are all new: a context fact of their own (which prices could read),
        # so no search reuses another's ranking or prices.
        template = json.dumps({**searches(routes, 1)[0], "context": {"visit": "%d-%d"}}).encode()
        for workers in (1, 2):
            with server(env, workers) as base, floor_server(workers) as floor:
                per_search = statistics.mean(
                    len(
                        _post(base, env["DEMO_OE_RUNTIME_KEY"], "/v1/offers/search", json.loads(b))[
                            "offers"
                        ]
                    )
                    for b in bodies
                )
                fresh = json.loads(template.decode().replace("%d", "0"))
                per_new = len(
                    _post(base, env["DEMO_OE_RUNTIME_KEY"], "/v1/offers/search", fresh)["offers"]
                )
                medians = compare(
                    {
                        "empty (POST /bench/empty)": Target(f"{base}/bench/empty", bodies=bodies),
                        FLOOR: Target(floor, bodies=bodies),
                        "POST /v1/offers/search": Target(
                            f"{base}/v1/offers/search", key, bodies=bodies
                        ),
                        "  every search new": Target(
                            f"{base}/v1/offers/search", key, template=template
                        ),
                    },
                    empty="empty (POST /bench/empty)",
                    floor=FLOOR,
                    rounds=args.rounds,
                    seconds=args.seconds,
                    connections=args.connections,
                    label=f"workers={workers}",
                )
                print(
                    f"  offers returned/s: {medians['POST /v1/offers/search'] * per_search:,.0f} "
                    f"({per_search:.2f} per search); every search new: "
                    f"{medians['  every search new'] * per_new:,.0f} ({per_new} per search)"
                )


if __name__ == "__main__":
    main()
