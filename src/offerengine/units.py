"""Units of work outside HTTP (the CLI, tests), with the same rules as a request: one
transaction, version bumps flushed before commit, changes announced after."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.db.engine import create_engine
from offerengine.settings import Settings
from offerengine.snapshots import feed
from offerengine.snapshots import service as snapshots

T = TypeVar("T")


async def run_in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            if engine.dialect.name == "sqlite":
                await session.connection(execution_options={"sqlite_immediate": True})
            result = await work(session)
            changes = await snapshots.flush_changes(session)
            await session.commit()
    finally:
        await engine.dispose()
    if changes and settings.redis_url:
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        try:
            await feed.publish(  # the CLI never revokes, so nobody waits for acknowledgements
                redis,
                feed.channel_name(settings.redis_prefix),
                changes,
                origin=f"cli-{uuid.uuid4().hex}",
            )
        finally:
            await redis.aclose()
    return result
