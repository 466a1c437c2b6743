"""The entry point: an ingestor on the settings' database with its tenants' snapshots kept fresh
(:func:`open_ingestor`), and :func:`run`, which consumes from every broker the settings name."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker

from offerengine.db.engine import create_engine
from offerengine.observability.logging import get_logger
from offerengine.recording.consumer import consumer_name
from offerengine.recording.ingest._ingestor import EventIngestor
from offerengine.recording.ingest._nats import NatsConsumer
from offerengine.recording.ingest._redis import RedisStreamConsumer
from offerengine.settings import Settings
from offerengine.snapshots import build as snapshots
from offerengine.snapshots.feed import ChangeFeed, channel_name
from offerengine.snapshots.store import SnapshotStore

log = get_logger("offerengine.ingest")


@contextlib.asynccontextmanager
async def open_ingestor(settings: Settings) -> AsyncIterator[EventIngestor]:
    """An :class:`EventIngestor` on the settings' database (and Redis, for the caps' counters),
    its tenants' snapshots kept fresh by a change feed as a worker's are; closed on leaving."""
    engine = create_engine(settings.database_url, pool_size=4, echo=settings.database_echo)
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    redis = (
        Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=2)
        if settings.redis_url
        else None
    )

    store = SnapshotStore(snapshots.builder(session_factory))
    feed = ChangeFeed(
        store=store,
        session_factory=session_factory,
        redis=redis,
        channel=channel_name(settings.redis_prefix),
        poll_seconds=(
            settings.snapshot_backstop_seconds if redis else settings.snapshot_poll_seconds
        ),
        on_auth=lambda _version: None,
    )
    await feed.start()
    try:
        yield EventIngestor(
            session_factory=session_factory,
            is_sqlite=engine.dialect.name == "sqlite",
            snapshots=store,
            redis=redis,
            redis_prefix=settings.redis_prefix,
            max_deliveries=settings.events_max_deliveries,
        )
    finally:
        await feed.stop()
        await store.close()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


def events_stream(settings: Settings) -> str:
    """The Redis stream external events are read from."""
    return settings.events_stream or f"{settings.redis_prefix}:events:in"


async def run(
    settings: Settings, stop: asyncio.Event | None = None, *, consumer: str | None = None
) -> None:
    """Read external events from every broker the settings name — NATS JetStream when
    ``nats_url`` is set, the Redis stream when ``redis_url`` is — until ``stop`` is set (or the
    task is cancelled). ``consumer`` names this process in the Redis group (default: host and
    pid). Returns at once when neither is set."""
    stop = stop or asyncio.Event()
    async with open_ingestor(settings) as ingestor, contextlib.AsyncExitStack() as stack:
        consumers: list[NatsConsumer | RedisStreamConsumer] = []
        if settings.nats_url:
            consumers.append(
                NatsConsumer(
                    ingestor,
                    url=settings.nats_url,
                    stream=settings.nats_stream,
                    subject=settings.nats_subject,
                    durable=settings.nats_durable,
                    batch=settings.events_batch,
                    ack_wait=settings.events_redeliver_seconds,
                )
            )
        if settings.redis_url:
            redis = Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=2)
            stack.push_async_callback(redis.aclose)
            consumers.append(
                RedisStreamConsumer(
                    ingestor,
                    redis,
                    stream=events_stream(settings),
                    group=settings.events_group,
                    consumer=consumer or consumer_name(),
                    batch=settings.events_batch,
                    claim_seconds=settings.events_redeliver_seconds,
                )
            )
        if not consumers:
            log.info("no_event_brokers")
            return
        log.info("consuming_events", brokers=[type(c).__name__ for c in consumers])
        await asyncio.gather(*(c.run(stop) for c in consumers))
