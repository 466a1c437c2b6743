"""`offerengine consume`: one consumer process — the record streams' consumer and the brokers'
event ingestion side by side, until it is told to stop.

Run as many as the load needs, on any hosts: they share the work through consumer groups (Redis)
and a durable pull consumer (NATS). Stopping one (SIGTERM) finishes the batch in hand; killing
one loses nothing: what it took and never acknowledged is claimed by another after
``consumer_claim_seconds`` (records) or ``events_redeliver_seconds`` (events).
"""

from __future__ import annotations

import asyncio
import contextlib

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker

from offerengine.db.engine import create_engine, create_writer_engine
from offerengine.observability.logging import get_logger
from offerengine.observability.metrics import Metrics
from offerengine.recording import ingest
from offerengine.recording.consumer import Consumer
from offerengine.recording.store import RecordStore
from offerengine.settings import Settings

log = get_logger("offerengine.consume")


async def consume(
    settings: Settings,
    stop: asyncio.Event,
    *,
    metrics: Metrics | None = None,
    records: bool = True,
    events: bool = True,
    name: str | None = None,
) -> None:
    """Run the record streams' consumer (``records``, when Redis is configured) and the event
    ingestion (``events``: NATS and the Redis events stream, as configured) until ``stop``."""
    tasks: list[asyncio.Task[None]] = []
    async with contextlib.AsyncExitStack() as stack:
        if records and settings.redis_url:
            engine = create_engine(settings.database_url, pool_size=2)
            stack.push_async_callback(engine.dispose)
            redis = Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=2)
            stack.push_async_callback(redis.aclose)
            consumer = Consumer(
                redis,
                RecordStore(
                    async_sessionmaker(engine, expire_on_commit=False),
                    engine=create_writer_engine(settings.database_url),
                    is_sqlite=engine.dialect.name == "sqlite",
                    source="stream",
                ),
                prefix=settings.redis_prefix,
                shards=settings.records_shards,
                name=name,
                batch=settings.consumer_batch,
                claim_seconds=settings.consumer_claim_seconds,
                metrics=metrics,
            )
            stack.callback(consumer.close)
            tasks.append(asyncio.create_task(consumer.run(stop), name="records"))
            log.info("consuming_records", consumer=consumer.name, shards=settings.records_shards)
        elif records:
            log.info("no_record_streams", reason="OFFERENGINE_REDIS_URL is not set")
        if events:
            tasks.append(
                asyncio.create_task(ingest.run(settings, stop, consumer=name), name="events")
            )
        try:
            await stop.wait()
        finally:
            for task in tasks:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(task), timeout=10)
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
