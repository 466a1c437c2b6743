"""Records: how fast one consumer stores the record streams into the database.

    .venv/bin/python bench/records.py [--records 100000] [--kind decision|quote|search|mixed]
        [--database postgresql://postgres@127.0.0.1:5432/test] [--redis redis://127.0.0.1:6379/0]

Appends --records records of --kind to the Redis streams (as the API's StreamRecorder does, in
pipelined batches), then runs one consumer (``offerengine consume``'s, in this process) until it
has stored them all, and prints records per second stored, with the append rate beside it. The
records go to a schema of their own on PostgreSQL (dropped at the end), under a tenant made for
the run. Decisions are bench/decide.py's shape (3 activities, a proposition each); quotes carry a
10-item basket's answer (~18 KB of JSON) and its analytics lines.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from _http import machine
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker

from offerengine.db import migrate
from offerengine.db.engine import create_engine, create_writer_engine
from offerengine.ids import new_search_key, new_time_uuid
from offerengine.recording import records
from offerengine.recording.consumer import Consumer
from offerengine.recording.store import RecordStore
from offerengine.recording.stream import StreamRecorder
from offerengine.redis_line import RedisLine


def decision(tenant_id: uuid.UUID, n: int) -> records.Decision:
    return records.Decision(
        tenant_id=tenant_id,
        id=new_time_uuid(),
        profile_id=f"profile-{n}",
        made_at=datetime.now(UTC),
        propositions=[
            {
                "activity_id": str(uuid.UUID(int=a)),
                "placement_id": str(uuid.UUID(int=100 + a)),
                "offer_id": str(uuid.UUID(int=1000 + (n + a) % 500)),
                "score": 0.5,
                "fallback": False,
            }
            for a in range(3)
        ],
    )


def quote(tenant_id: uuid.UUID, n: int, data: bytes) -> records.Quote:
    now = datetime.now(UTC)
    return records.Quote(
        tenant_id=tenant_id,
        id=new_time_uuid(),
        request_hash=f"{n:064x}",
        created_at=now,
        valid_until=now + timedelta(minutes=30),
        day=now.date().isoformat(),
        customer_id=f"c-{n}",
        seller_id="s",
        city="istanbul",
        country="TR",
        currency="TRY",
        item_total=100000,
        discount=2000,
        tax=18000,
        delivery_fee=1990,
        small_basket_fee=0,
        total=117990,
        commission=7000,
        coupons=[],
        data=data,
        lines=[(i, f"cat-{i}", "s", "l", 1, 10000, 9800, 1800, 300, 200, 100) for i in range(5)],
    )


def search(tenant_id: uuid.UUID, n: int) -> records.Search:
    now = datetime.now(UTC)
    return records.Search(
        tenant_id=tenant_id,
        id=new_search_key(),
        search_id=uuid.uuid4().hex,
        segment="leisure",
        customer_id=f"c-{n}",
        currency="USD",
        experiments_json="[]",
        offers_json='{"00":{"offer_type":"FLIGHT_ONLY","body_id":"b","flight_id":"f"}}',
        created_at=now,
        expires_at=now + timedelta(minutes=15),
        shown=["FLIGHT_ONLY", "COMFORT", "PREMIUM"],
    )


def make(kind: str, tenant_id: uuid.UUID, n: int, data: bytes) -> records.Record:
    if kind == "mixed":
        kind = ("decision", "decision", "search", "quote")[n % 4]
    if kind == "decision":
        return decision(tenant_id, n)
    if kind == "quote":
        return quote(tenant_id, n, data)
    return search(tenant_id, n)


async def run(args: argparse.Namespace) -> None:
    schema = f"bench_records_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{args.database}?options=-csearch_path%3D{schema}"
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(args.redis, socket_timeout=30)
    line = RedisLine(args.redis)
    try:
        migrate.upgrade(url)
        tenant_id = uuid.uuid4()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO tenants (id, code, name, kind, base_currency, timezone, status, "
                "settings, config_version, version, created_at, updated_at) VALUES "
                "(%s, 'BR', 'Bench', 'marketplace', 'TRY', 'UTC', 'active', '{}', 1, 1, now(), now())",
                (tenant_id,),
            )
        data = (
            b'{"quote_id":"x","lines":['
            + b",".join([b'{"n":%d,"text":"%s"}' % (i, b"y" * 150) for i in range(100)])
            + b"]}"
        )
        recorder = StreamRecorder(line, prefix=prefix, shards=args.shards, young_seconds=60)
        started = time.perf_counter()
        for start in range(0, args.records, 500):
            chunk = [
                make(args.kind, tenant_id, n, data)
                for n in range(start, min(start + 500, args.records))
            ]
            await recorder.record(*chunk)
        appended = time.perf_counter() - started
        engine = create_engine(url, pool_size=2)
        consumer = Consumer(
            redis,
            RecordStore(
                async_sessionmaker(engine, expire_on_commit=False),
                engine=create_writer_engine(url),
                is_sqlite=False,
                source="bench",
            ),
            prefix=prefix,
            shards=args.shards,
            name="bench",
            batch=args.batch,
        )
        started = time.perf_counter()
        stop = asyncio.Event()
        running = asyncio.create_task(consumer.run(stop))
        while consumer.consumed < args.records:  # noqa: ASYNC110 - polling a counter
            await asyncio.sleep(0.01)
        stored = time.perf_counter() - started
        stop.set()
        await running
        consumer.close()
        await engine.dispose()
        print(machine())
        print(
            f"{args.records} {args.kind} records, {args.shards} streams, batches of {args.batch}: "
            f"appended at {args.records / appended:,.0f}/s (pipelined, 500 a round trip); "
            f"one consumer stored {args.records / stored:,.0f}/s into PostgreSQL"
        )
    finally:
        keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await line.close()
        with psycopg.connect(args.database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument(
        "--kind", choices=["decision", "quote", "search", "mixed"], default="decision"
    )
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
