"""How every worker learns that configuration or keys changed.

- With Redis: the worker that committed a change publishes it on a channel; every worker's listener
  applies it as it arrives (milliseconds). A slower database poll (``snapshot_backstop_seconds``)
  catches anything missed while Redis was unreachable.
- Without Redis: every worker polls the database every ``snapshot_poll_seconds`` (two tiny queries).

The worker that made a change applies it locally before it answers, so it reads its own writes.

Key revocations (and tenant suspensions) must hold in every worker once the request that made them
has answered, so that request waits: with Redis, until every worker that received the notice has
acknowledged it (their key caches are clear; at most ``ACK_TIMEOUT_SECONDS``); without Redis, two
poll intervals, after which every worker has completed a poll that began after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.observability.logging import get_logger
from offerengine.snapshots import service
from offerengine.snapshots.service import Changes
from offerengine.snapshots.store import SnapshotStore

log = get_logger("offerengine.feed")
AuthListener = Callable[[int], None]
ACK_TIMEOUT_SECONDS = 1.0
ACK_TTL_SECONDS = 60


def channel_name(prefix: str) -> str:
    return f"{prefix}:changes"


def _ack_key(channel: str, notice: str) -> str:
    return f"{channel}:ack:{notice}"


async def publish(redis: Redis, channel: str, changes: Changes, *, origin: str) -> tuple[str, int]:
    """Tell every worker about a committed change; return the notice's id and how many workers
    received it (0 when Redis failed: the change is committed and the polls will catch up)."""
    notice = uuid.uuid4().hex
    message = json.dumps(
        {
            "id": notice,
            "origin": origin,
            "config": {str(k): v for k, v in changes.config.items()},
            "deleted": [str(t) for t in changes.deleted],
            "auth": changes.auth_version,
        }
    )
    try:
        return notice, int(await redis.publish(channel, message))
    except Exception as exc:
        log.warning("feed_publish_failed", error=repr(exc))
        return notice, 0


async def wait_for_acks(redis: Redis, channel: str, notice: str, receivers: int) -> bool:
    """Wait until ``receivers`` workers have acknowledged ``notice``; False on timeout."""
    key = _ack_key(channel, notice)
    deadline = asyncio.get_running_loop().time() + ACK_TIMEOUT_SECONDS
    while True:
        try:
            if int(await redis.get(key) or 0) >= receivers:
                return True
        except Exception as exc:
            log.warning("feed_ack_read_failed", error=repr(exc))
            return False
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.002)


class ChangeFeed:
    def __init__(
        self,
        *,
        store: SnapshotStore,
        session_factory: async_sessionmaker[AsyncSession],
        redis: Redis | None,
        channel: str,
        poll_seconds: float,
        on_auth: AuthListener,
    ) -> None:
        self.store = store
        self.session_factory = session_factory
        self.redis = redis
        self.channel = channel
        self.poll_seconds = poll_seconds
        self.on_auth = on_auth
        self.origin = uuid.uuid4().hex
        self._tasks: list[asyncio.Task[None]] = []
        self._known_tenants: set[uuid.UUID] = set()
        self._acks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        try:
            await self.poll_once()
        except Exception as exc:
            log.warning("feed_initial_poll_failed", error=repr(exc))
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._poll_loop(), name="offerengine-feed-poll"))
        if self.redis is not None:
            listener = self._listen_loop(self.redis)
            self._tasks.append(loop.create_task(listener, name="offerengine-feed-redis"))

    async def stop(self) -> None:
        """Cancel the feed's loops and the acknowledgements still being sent, and await them."""
        tasks = [*self._tasks, *self._acks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def announce(self, changes: Changes) -> None:
        """Apply a committed change here at once, then tell the other workers."""
        if not changes:
            return
        self._apply(changes, local=True)
        if self.redis is not None:
            notice, receivers = await publish(self.redis, self.channel, changes, origin=self.origin)
            waits = changes.auth_version is not None and receivers > 0
            if waits and not await wait_for_acks(self.redis, self.channel, notice, receivers):
                log.warning("auth_change_not_acknowledged", receivers=receivers)
        elif changes.auth_version is not None:
            await asyncio.sleep(2 * self.poll_seconds + 0.05)

    async def poll_once(self) -> None:
        async with self.session_factory() as session:
            versions, auth_version = await service.current_versions(session)
        for tenant_id in self._known_tenants - versions.keys():
            self.store.forget(tenant_id)
        self._known_tenants = set(versions)
        for tenant_id, version in versions.items():
            self.store.observe(tenant_id, version, local=False)
        self.on_auth(auth_version)

    def _apply(self, changes: Changes, *, local: bool) -> None:
        for tenant_id in changes.deleted:
            self.store.forget(tenant_id)
        for tenant_id, version in changes.config.items():
            self.store.observe(tenant_id, version, local=local)
        if changes.auth_version is not None:
            self.on_auth(changes.auth_version)

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.poll_once()
            except Exception as exc:
                log.warning("feed_poll_failed", error=repr(exc))

    async def _listen_loop(self, redis: Redis) -> None:
        backoff = 0.1
        while True:
            try:
                async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    backoff = 0.1
                    # Anything published while we were not subscribed is caught by one poll.
                    with contextlib.suppress(Exception):
                        await self.poll_once()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._on_message(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("feed_listen_failed", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _on_message(self, data: Any) -> None:
        try:
            payload = json.loads(data)
            changes = Changes(
                config={uuid.UUID(k): int(v) for k, v in payload.get("config", {}).items()},
                deleted=frozenset(uuid.UUID(t) for t in payload.get("deleted", [])),
                auth_version=payload.get("auth"),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("feed_bad_message", error=repr(exc))
            return
        self._apply(changes, local=False)
        notice = payload.get("id")
        if changes.auth_version is not None and isinstance(notice, str) and self.redis is not None:
            task = asyncio.get_running_loop().create_task(self._acknowledge(self.redis, notice))
            self._acks.add(task)
            task.add_done_callback(self._acks.discard)

    async def _acknowledge(self, redis: Redis, notice: str) -> None:
        key = _ack_key(self.channel, notice)
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, ACK_TTL_SECONDS)
                await pipe.execute()
        except Exception as exc:
            log.warning("feed_ack_failed", error=repr(exc))
