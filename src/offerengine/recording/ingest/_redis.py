"""The Redis stream broker: a member of the events stream's consumer group, reading its own
pending entries first, then new ones, and claiming the entries a dead member left; an entry is
acknowledged once stored or dead-lettered, and its delivery count read from the pending list."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from offerengine.observability.logging import get_logger
from offerengine.recording.ingest._ingestor import RETRY_SECONDS, EventIngestor, Message, Outcome

log = get_logger("offerengine.ingest")


class RedisStreamConsumer:
    """A member of the events stream's consumer group: reads new entries, and claims the entries
    another member took and left unacknowledged longer than ``claim_seconds`` (it died)."""

    def __init__(
        self,
        ingestor: EventIngestor,
        redis: Redis,
        *,
        stream: str,
        group: str,
        consumer: str,
        batch: int = 100,
        claim_seconds: float = 30.0,
    ) -> None:
        self._ingestor = ingestor
        self._redis = redis
        self._stream = stream
        self._group = group
        self._consumer = consumer
        self._batch = batch
        self._claim_ms = max(int(claim_seconds * 1000), 1)
        self._claim_every = max(claim_seconds / 4, 0.05)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set (or cancelled); go on after Redis was away."""
        stop = stop or asyncio.Event()
        backoff = 0.5
        while not stop.is_set():
            try:
                await self._consume(stop)
                return
            except (RedisError, OSError) as exc:
                log.warning("events_stream_unavailable", error=repr(exc), retry_in=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 10.0)

    async def _consume(self, stop: asyncio.Event) -> None:
        try:
            await self._redis.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        own = True  # this consumer's own pending entries first (a restart, a retry)
        cursor = "0-0"
        claimed_at = 0.0
        while not stop.is_set():
            entries: list[tuple[bytes, dict[bytes, bytes] | None]] = []
            if time.monotonic() - claimed_at >= self._claim_every:
                claimed_at = time.monotonic()
                found: Any = await self._redis.xautoclaim(
                    self._stream,
                    self._group,
                    self._consumer,
                    min_idle_time=self._claim_ms,
                    start_id=cursor,
                    count=self._batch,
                )
                cursor = _text(found[0])
                entries = list(found[1])
            if not entries and own:
                entries = await self._read("0", block=None)
                own = bool(entries)
            if not entries:
                entries = await self._read(">", block=1000)
            if entries and not await self._settle(entries):
                own = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_SECONDS)

    async def _read(
        self, start: str, *, block: int | None
    ) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        found: Any = await self._redis.xreadgroup(
            self._group, self._consumer, {self._stream: start}, count=self._batch, block=block
        )
        if not found:
            return []
        return list(found[0][1])

    async def _settle(self, entries: list[tuple[bytes, dict[bytes, bytes] | None]]) -> bool:
        """Settle the entries; whether none is to come again."""
        times = await self._deliveries([entry_id for entry_id, _ in entries])
        gone = [entry_id for entry_id, fields in entries if not fields]  # deleted meanwhile
        messages: list[Message] = []
        ids: list[bytes] = []
        for entry_id, fields in entries:
            if not fields:
                continue
            name = _text(entry_id)
            broker_id = f"redis:{self._stream}:{name}"
            messages.append(
                Message(
                    broker_id=broker_id,
                    ids=broker_id,
                    source=f"redis:{self._stream}",
                    tenant=_text(fields.get(b"tenant", b"")),
                    body=fields.get(b"event", b""),
                    deliveries=times.get(name, 1),
                )
            )
            ids.append(entry_id)
        outcomes = await self._ingestor.settle(messages) if messages else []
        done = gone + [i for i, o in zip(ids, outcomes, strict=True) if o is not Outcome.RETRY]
        if done:
            await self.acknowledge(done)
        return all(o is not Outcome.RETRY for o in outcomes)

    async def acknowledge(self, entry_ids: list[bytes]) -> None:
        """Take the entries, stored or dead-lettered, off the group's pending list."""
        await self._redis.xack(self._stream, self._group, *entry_ids)

    async def _deliveries(self, entry_ids: list[bytes]) -> dict[str, int]:
        """How often each entry was delivered, this time included (from the group's pending
        list)."""
        names = sorted(entry_ids, key=lambda e: tuple(int(p) for p in _text(e).split("-")))
        found: Any = await self._redis.xpending_range(
            self._stream,
            self._group,
            min=names[0],
            max=names[-1],
            count=len(names),
            consumername=self._consumer,
        )
        return {_text(p["message_id"]): int(p["times_delivered"]) for p in found}


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
