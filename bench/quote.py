"""Quotes: a 10-item basket against 1,000 commission rates and 50 fee rules.

    .venv/bin/python bench/quote.py [--rounds 3] [--seconds 5] [--workers 1,2]

Prints (a) in-process latency p50/p99 of the quote core (``offerengine.commerce.core.quote``) for
baskets that vary seller, categories and city, as served (commission resolutions reused within
the rules' interval) and with that memo emptied before every quote, and what else a new quote
costs, step by step (validation, response data, encoding, stored rows); (b) the whole route in
process: the app called over ASGI without an HTTP server, new baskets one after another, in CPU
time of every thread per quote, the writer's flush of their rows included, beside the empty
endpoint; (c) HTTP
throughput of
``POST /v1/quote`` with a runtime key, as a ratio to ``POST /bench/empty`` of the same server in the
same run: for new baskets (each request distinct, so each is priced, stored and hashed anew) and
for a repeated basket (the stored quote served again), with 1 and 2 workers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _http import Target, compare, demo_database, machine, server

from offerengine.commerce import core, service

CITIES = [
    ("Istanbul", 41.0082, 28.9784),
    ("Ankara", 39.9334, 32.8597),
    ("Izmir", 38.4237, 27.1428),
    ("Bursa", 40.1950, 29.0600),
    ("Antalya", 36.8969, 30.7133),
]
CATEGORIES = [f"cat-{i:02d}" for i in range(20)]
SELLERS = [f"seller-{i:02d}" for i in range(50)]
LOGISTICS = ["yurtici-kargo", "aras-kargo", "mng-kargo"]
NOW = datetime.now(UTC)


def rates() -> list[dict[str, Any]]:
    """1,000 rates over sellers, categories, logistics providers and regions."""
    found: list[dict[str, Any]] = []
    for i, seller in enumerate(SELLERS):
        for j in range(18):
            category = CATEGORIES[(i + j) % len(CATEGORIES)]
            rate: dict[str, Any] = {
                "seller_id": seller,
                "category": category,
                "commission_type": "PERCENTAGE",
                "rate": f"{5 + (i * j) % 10}.5",
                "priority": j % 3,
            }
            if j % 4 == 0:
                rate["region"] = CITIES[(i + j) % len(CITIES)][0]
            if j % 7 == 0:
                rate.update(commission_type="TIERED", rate=None)
                rate["tiers"] = [{"up_to": "500.00", "rate": "10"}, {"up_to": None, "rate": "6"}]
            found.append({k: v for k, v in rate.items() if v is not None})
    for category in CATEGORIES:
        found.append({"category": category, "commission_type": "PERCENTAGE", "rate": "8"})
    for k, provider in enumerate(LOGISTICS):
        found.append(
            {"logistics_provider": provider, "commission_type": "FLAT", "rate": f"{k + 1}.00"}
        )
    found += [{"commission_type": "PERCENTAGE", "rate": "9"}] * (1000 - len(found))
    return found[:1000]


def fee_rules() -> list[dict[str, Any]]:
    """50 fee and tax rules: delivery, express and small basket per city, distance, taxes."""
    found: list[dict[str, Any]] = [
        {"name": "Delivery", "type": "DELIVERY_FEE", "configuration": {"base_fee": "29.90"}},
        {
            "name": "Distance",
            "type": "DISTANCE_FEE",
            "configuration": {
                "bands": [
                    {"up_to_km": "5", "fee": "0.00"},
                    {"up_to_km": "20", "fee": "10.00"},
                    {"up_to_km": None, "fee": "25.00"},
                ]
            },
        },
        {
            "name": "VAT",
            "type": "TAX",
            "region": "TR",
            "configuration": {"rate": "20", "tax_fees": True},
        },
    ]
    for city, _, _ in CITIES:
        found += [
            {"name": f"Delivery {city}", "type": "DELIVERY_FEE", "region": city,
             "configuration": {"base_fee": "19.90", "per_kg": "2.00", "included_kg": "5"}},
            {"name": f"Express {city}", "type": "EXPRESS_FEE", "region": city,
             "configuration": {"base_fee": "15.00", "multiplier": "1.5", "max_fee": "50.00", "distance_factor": "2.0"}},
            {"name": f"Small basket {city}", "type": "SMALL_BASKET_FEE", "region": city,
             "configuration": {"threshold": "150.00", "fee": "14.90"}},
        ]  # fmt: skip
    for category in CATEGORIES:
        found.append(
            {"name": f"Tax {category}", "type": "TAX", "region": "TR", "category": category,
             "configuration": {"rate": "10" if category < "cat-10" else "1"}}
        )  # fmt: skip
    found.append(
        {
            "name": "Free over 2000",
            "type": "FREE_DELIVERY",
            "configuration": {"threshold": "2000.00"},
        }
    )
    found += [
        {"name": f"Old delivery {i}", "type": "DELIVERY_FEE", "region": f"Town {i}",
         "configuration": {"base_fee": "9.90"}}
        for i in range(50 - len(found))
    ]  # fmt: skip
    return found[:50]


def basket(n: int, customer: str = "customer") -> dict[str, Any]:
    """Seed 002's request with 10 items; ``n`` varies seller, categories and city."""
    city, lat, lon = CITIES[n % len(CITIES)]
    return {
        "customer_id": customer,
        "seller_id": SELLERS[n % len(SELLERS)],
        "logistics_provider": LOGISTICS[n % len(LOGISTICS)],
        "items": [
            {
                "product_id": f"p-{n}-{i}",
                "variant_id": "v1",
                "quantity": 1 + i % 3,
                "unit_price": f"{49 + 37 * i}.90",
                "category_id": CATEGORIES[(n + 3 * i) % len(CATEGORIES)],
                "tags": ["bench"],
                "weight": 0.4,
            }
            for i in range(10)
        ],
        "delivery_address": {"street": "Cadde 1", "city": city, "country": "TR",
                             "latitude": lat + 0.05, "longitude": lon + 0.05},
        "pickup_address": {"street": "Depo 2", "city": city, "country": "TR",
                           "latitude": lat, "longitude": lon},
        "is_express_delivery": n % 2 == 0,
        "coupon_codes": ["SAVE20"],
        "currency": "TRY",
        "context": {"session_id": f"s-{n}", "ab_test_group": "group_a"},
    }  # fmt: skip


def in_process(samples: int) -> None:
    from offerengine.commerce import quote_request, quoting

    def compiled(spec: Any, data: dict[str, Any]) -> dict[str, Any]:
        body, errors, _ = service.body_of(
            spec, spec.schema_in.model_validate(data), base_currency="TRY"
        )
        assert not errors, errors
        return {**body, "id": str(uuid.uuid4()), "version": 1}

    index = core.CommerceIndex(
        rates=[core.rate_state(compiled(service.RATE, r), NOW) for r in rates()],
        fees=[core.fee_state(compiled(service.FEE_RULE, f), NOW) for f in fee_rules()],
        coupons=[
            core.coupon(
                compiled(
                    service.COUPON,
                    {"code": "SAVE20", "type": "PERCENTAGE", "value": "20", "max_discount": "100"},
                )
            )
        ],
    )
    baskets = [
        quoting.basket(quote_request.decode(json.dumps(basket(n)).encode()), "TRY")
        for n in range(500)
    ]
    for label, clear in (("as served", False), ("memo emptied before each quote", True)):
        timings = []
        for i in range(samples):
            chosen = baskets[i % len(baskets)]
            if clear:
                index.at(NOW).memo.clear()
            started = time.perf_counter()
            core.quote(index, chosen, at=NOW)
            timings.append(time.perf_counter() - started)
        timings.sort()
        p50 = statistics.median(timings) * 1e6
        p99 = timings[int(len(timings) * 0.99)] * 1e6
        print(f"in process, {label}: p50 {p50:.0f} µs, p99 {p99:.0f} µs ({samples:,} quotes)")
    parts(index, samples // 4)


def parts(index: core.CommerceIndex, samples: int) -> None:
    """What one new quote costs a worker beyond the core, step by step (p50 of each), so that
    the HTTP figure can be read against it."""
    from datetime import timedelta

    from offerengine.commerce import quote_request, quote_response, quoting

    raw = json.dumps(basket(7, "customer")).encode()
    request = quote_request.decode(raw)
    made = quoting.basket(request, "TRY")
    result = core.quote(index, made, at=NOW)
    quote_id = uuid.uuid4()
    times = {
        "quote_id": quote_id,
        "created_at": NOW,
        "valid_until": NOW + timedelta(minutes=15),
        "config_version": 1,
    }
    data = quote_response.quote_data(result, **times)
    encoded = quoting._encode(data)
    steps: dict[str, Any] = {
        "request validated": lambda: quote_request.decode(raw),
        "basket": lambda: quoting.basket(request, "TRY"),
        "core": lambda: core.quote(index, made, at=NOW),
        "response data": lambda: quote_response.quote_data(result, **times),
        "encoded": lambda: quoting._encode(data),
        "record": lambda: quoting._record(
            result,
            encoded,
            tenant_id=quote_id,
            quote_id=quote_id,
            digest="",
            request=request,
            created_at=NOW,
            valid_until=NOW,
            day=NOW.date().isoformat(),
        ),
    }
    found = []
    for name, step in steps.items():
        timings = []
        for _ in range(samples):
            started = time.perf_counter()
            step()
            timings.append(time.perf_counter() - started)
        found.append(f"{name} {statistics.median(timings) * 1e6:.0f} µs")
    print(
        f"one new quote, in process, step by step (p50): {', '.join(found)}; {len(encoded):,} bytes"
    )


def whole_route(env: dict[str, str], count: int) -> None:
    """The app itself, called over ASGI (its middleware, authentication, flags, storing; no HTTP
    server): CPU time of all of the process's threads per request, so that what HTTP adds under
    load can be read off the HTTP figures."""
    import asyncio
    import os

    from offerengine.app import create_app
    from offerengine.settings import Settings

    os.environ.update(env)
    app = create_app(Settings())
    key = env["DEMO_MKT_RUNTIME_KEY"]

    async def call(path: str, body: bytes, auth: bool) -> int:
        headers = [(b"host", b"bench"), (b"content-type", b"application/json")]
        if auth:
            headers.append((b"authorization", f"Bearer {key}".encode()))
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
        }  # fmt: skip
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.sleep(3600)  # the client never disconnects
            return {}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0]

    async def run() -> None:
        template = json.dumps(basket(7, "inprocess-%d-%d"))
        async with app.admin.router.lifespan_context(app.admin):
            writer = app.state.context.recorder
            found = []
            for label, path, auth, body in (
                ("empty", "/bench/empty", False, lambda i: b"{}"),
                ("new basket", "/v1/quote", True, lambda i: (template % (0, i)).encode()),
            ):
                for i in range(count // 10):  # warm up
                    assert await call(path, body(-i - 1), auth) == 200
                await writer.flush()
                started = time.process_time()
                for i in range(count):
                    assert await call(path, body(i), auth) == 200
                answered = time.process_time()
                await writer.flush()  # what the requests left to store is part of their cost
                spent = (time.process_time() - started) / count * 1e6
                left = (time.process_time() - answered) / count * 1e6
                found.append(f"{label} {spent:.0f} µs (the last flush {left:.0f} µs of it)")
        print(
            "whole route in process (the app over ASGI, no HTTP server; CPU of all threads per "
            f"request, {count:,} requests): {', '.join(found)}"
        )

    asyncio.run(run())


def post(base: str, path: str, key: str, body: Any, method: str = "POST") -> Any:
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def configure(base: str, editor: str) -> None:
    """Replace the demo marketplace's quote configuration by the bench's."""
    tenant = "/v1/admin/tenants/MKT"
    for kind in ("commission-rates", "fee-rules"):
        listed = post(base, f"{tenant}/{kind}?limit=1000", editor, None, method="GET")
        for item in listed["items"]:
            urllib.request.urlopen(
                urllib.request.Request(
                    f"{base}/v1/admin/{kind}/{item['id']}",
                    headers={"Authorization": f"Bearer {editor}"},
                    method="DELETE",
                )
            ).read()
    post(base, f"{tenant}/commission-rates/bulk", editor, {"rates": rates()}, method="PUT")
    for rule in fee_rules():
        post(base, f"{tenant}/fee-rules", editor, rule)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument(
        "--redis",
        default=None,
        help="configure this Redis (redis://127.0.0.1:6379/0): records on streams, consumer paused",
    )
    parser.add_argument("--parts", default="in-process,route,http")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    print(f"machine: {machine()}")
    if "in-process" in parts:
        in_process(args.samples)
    with tempfile.TemporaryDirectory() as folder:
        env = demo_database(Path(folder))
        if args.redis:
            env["OFFERENGINE_REDIS_URL"] = args.redis
            env["OFFERENGINE_REDIS_PREFIX"] = f"oe-bench-{uuid.uuid4().hex[:8]}"
            # Consumers run on other hosts in production: the API is measured without one.
            env["OFFERENGINE_EMBEDDED_CONSUMER"] = "false"
            print(f"records: Redis streams at {args.redis} (no consumer running)")
        with server(env, 1) as base:
            configure(base, env["DEMO_MKT_EDITOR_KEY"])
            check = post(base, "/v1/quote", env["DEMO_MKT_RUNTIME_KEY"], basket(0))["data"]
            print(
                f"check: {len(check['items'])} items, total {check['total_amount']} TRY, "
                f"{len(check['pricing_breakdown']['calculations'])} steps, "
                f"{len(check['commission_breakdown']['details'])} commission amounts"
            )
        if "route" in parts:
            whole_route(env, args.samples // 5)
        headers = {"Authorization": f"Bearer {env['DEMO_MKT_RUNTIME_KEY']}"}
        # One template: each request its own customer (so its own hash), the rest as basket(7).
        template = json.dumps(basket(7, "customer-%d-%d")).encode()
        repeated = json.dumps(basket(7, "repeat")).encode()
        for workers in (int(w) for w in args.workers.split(",")) if "http" in parts else ():
            with server(env, workers) as base:
                compare(
                    {
                        "empty": Target(f"{base}/bench/empty", body=b"{}"),
                        "POST /v1/quote, new baskets": Target(
                            f"{base}/v1/quote", headers, template=template
                        ),
                        "POST /v1/quote, the same basket": Target(
                            f"{base}/v1/quote", headers, body=repeated
                        ),
                    },
                    empty="empty",
                    rounds=args.rounds,
                    seconds=args.seconds,
                    connections=32,
                    label=f"HTTP, {workers} worker{'s' * (workers > 1)}",
                )


if __name__ == "__main__":
    main()
