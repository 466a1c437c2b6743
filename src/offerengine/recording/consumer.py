"""Consumers of the record streams: read, store in bulk, acknowledge.

Every consumer (any number of ``offerengine consume`` processes on any hosts, and the embedded
one of ``offerengine serve``) joins one Redis consumer group over the ``records_shards`` streams
and loops:

1. read up to ``consumer_batch`` new entries of all the streams (blocking a second when idle);
2. decode them; an entry that is not a record goes to the dead-letter stream and table at once;
3. store the records in one transaction through :class:`~store.RecordStore` (a record refused by
   the database goes to the dead letters and never holds back the others; records stored already
   are left as they are, so a redelivery stores nothing twice);
4. acknowledge every entry read. While the database is away, the batch is retried (nothing is
   acknowledged) until it comes back.

Every ``consumer_claim_seconds`` a consumer also claims the entries another consumer took and
never acknowledged (it died mid-batch), and trims each stream below what the group has read and
acknowledged. A record refused by the database is added to ``<prefix>:records:dead`` with its
error, beside its row in the ``dead_letters`` table (which the admin re-drives).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import time
from collections.abc import Iterable
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from offerengine.db.base import utcnow
from offerengine.observability.logging import get_logger
from offerengine.observability.metrics import Metrics
from offerengine.recording import records as r
from offerengine.recording.store import RecordStore, brief, letter_row
from offerengine.recording.stream import (
    GROUP,
    dead_stream_name,
    decode,
    entry_order,
    stream_names,
)

log = get_logger("offerengine.recording.consumer")
TRIM_SECONDS = 10.0  # how often a consumer trims what the group has acknowledged

Entry = tuple[str, bytes, dict[bytes, bytes]]  # stream, entry id, fields


def consumer_name() -> str:
    """This process's name in the group: host and process id (a restarted process is a new
    consumer; what the old one left unacknowledged is claimed)."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Consumer:
    """One member of the record streams' consumer group (see the module's doc)."""

    def __init__(
        self,
        redis: Redis,
        store: RecordStore,
        *,
        prefix: str,
        shards: int,
        name: str | None = None,
        batch: int = 2000,
        claim_seconds: float = 30.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._redis = redis
        self._store = store
        self._streams = stream_names(prefix, shards)
        self._dead = dead_stream_name(prefix)
        self.name = name or consumer_name()
        self._batch = batch
        self._claim_ms = int(claim_seconds * 1000)
        self._claim_seconds = claim_seconds
        self._metrics = metrics
        self._grouped = False
        self.consumed = 0  # records stored (or found stored) by this consumer

    def close(self) -> None:
        self._store.close()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set (or the task is cancelled). The next batch is read and
        decoded while the database stores the one before (on the store's thread): one batch
        in flight at a time, each acknowledged once stored."""
        stop = stop or asyncio.Event()
        claimed_at = trimmed_at = 0.0
        storing: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                try:
                    await self._ensure_groups()
                    now = time.monotonic()
                    if now - claimed_at >= self._claim_seconds:
                        claimed_at = now
                        if storing is not None:
                            await storing
                            storing = None
                        await self.claim()
                    if now - trimmed_at >= TRIM_SECONDS:
                        trimmed_at = now
                        await self.trim()
                    # Idle, wait a second for entries; with a batch being stored, only look.
                    entries = await self.read(block_ms=None if storing else 1000)
                    if storing is not None:
                        await storing
                        storing = None
                    if entries:
                        storing = asyncio.create_task(self._handle(entries))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Redis or the database away: wait, then go on
                    storing = None
                    if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                        # Redis lost its data (restarted without persistence, or flushed): the
                        # groups are made again, or no entry would ever be read.
                        self._grouped = False
                    log.warning("consumer_waiting", consumer=self.name, error=brief(exc))
                    await asyncio.sleep(1.0)
        finally:
            if storing is not None:  # stopping: finish the batch in hand (it is acknowledged)
                with contextlib.suppress(Exception):
                    await storing

    async def consume_once(self, *, block_ms: int | None = None) -> int:
        """Read and store one batch of new entries; how many were read."""
        entries = await self.read(block_ms=block_ms)
        await self._handle(entries)
        return len(entries)

    async def read(self, *, block_ms: int | None = None) -> list[Entry]:
        """Up to a batch of new entries of every stream, taken for this consumer."""
        await self._ensure_groups()
        found = await self._redis.xreadgroup(
            GROUP,
            self.name,
            dict.fromkeys(self._streams, ">"),
            count=self._batch,
            block=block_ms,
        )
        entries: list[Entry] = [
            (_text(stream), entry_id, fields)
            for stream, items in cast(list[Any], found or [])
            for entry_id, fields in items
            if fields  # an entry trimmed away while pending comes back without fields
        ]
        return entries

    async def claim(self) -> int:
        """Take over the entries other consumers took ``claim_seconds`` ago or more and never
        acknowledged, and store them; how many were claimed."""
        await self._ensure_groups()
        claimed = 0
        for stream in self._streams:
            start: Any = "0-0"
            while True:
                reply = await self._redis.xautoclaim(
                    stream, GROUP, self.name, self._claim_ms, start_id=start, count=self._batch
                )
                start, items = reply[0], reply[1]
                entries = [(stream, entry_id, fields) for entry_id, fields in items if fields]
                await self._handle(entries)
                gone = [entry_id for entry_id, fields in items if not fields]
                if gone:
                    await self._redis.xack(stream, GROUP, *gone)
                claimed += len(items)
                if entry_order(start) == (0, 0):
                    break
        if claimed:
            log.info("records_claimed", consumer=self.name, entries=claimed)
        return claimed

    async def trim(self) -> None:
        """Drop what the group has read and acknowledged from each stream, and report the lag."""
        for stream in self._streams:
            info = await self._group_info(stream)
            if info is None:
                continue
            if self._metrics is not None:
                lag = info.get("lag")
                self._metrics.observe_lag(stream, int(lag) if lag is not None else None)
            oldest = info["last-delivered-id"]
            if int(info.get("pending") or 0):
                summary = await self._redis.xpending(stream, GROUP)
                if summary.get("min"):
                    oldest = summary["min"]
            ms, seq = entry_order(oldest)
            if (ms, seq) != (0, 0):
                await self._redis.xtrim(stream, minid=f"{ms}-{seq}", approximate=True)

    async def lag(self) -> dict[str, int | None]:
        """Entries of each stream not yet delivered to the group (Redis 7's ``lag``)."""
        found: dict[str, int | None] = {}
        for stream in self._streams:
            info = await self._group_info(stream)
            lag = None if info is None else info.get("lag")
            found[stream] = int(lag) if lag is not None else None
        return found

    async def _group_info(self, stream: str) -> dict[str, Any] | None:
        for group in await self._redis.xinfo_groups(stream):
            if _text(group["name"]) == GROUP:
                return {
                    key: _text(value) if isinstance(value, bytes) else value
                    for key, value in group.items()
                }
        return None

    async def _ensure_groups(self) -> None:
        if self._grouped:
            return
        for stream in self._streams:
            try:  # from the start of the stream: nothing appended before is missed
                await self._redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._grouped = True

    async def _handle(self, entries: list[Entry]) -> None:
        if not entries:
            return
        batch: list[r.Record] = []
        for stream, entry_id, fields in entries:
            try:
                batch.append(decode(fields[b"r"]))
            except Exception as exc:  # not a record: nothing to store, ever
                await self._set_aside_entry(stream, entry_id, fields, exc)
        while True:
            try:
                settled = await self._store.write(batch)
                break
            except Exception as exc:  # the database is away: nothing is acknowledged
                log.warning("consumer_store_waiting", consumer=self.name, error=brief(exc))
                await asyncio.sleep(1.0)
        for record, error in settled.refused:
            await self._add_dead(record, error)
        by_stream: dict[str, list[bytes]] = {}
        for stream, entry_id, _ in entries:
            by_stream.setdefault(stream, []).append(entry_id)
        for stream, ids in by_stream.items():
            await self._redis.xack(stream, GROUP, *ids)
        self.consumed += len(settled.written)
        if self._metrics is not None:
            self._metrics.observe_records(
                written=[r.kind_of(rec) for rec in settled.written],
                refused=[r.kind_of(rec) for rec, _ in settled.refused],
                pending=None,
            )
            self._metrics.observe_consumed(len(entries))

    async def _add_dead(self, record: r.Record, error: str) -> None:
        try:
            await self._redis.xadd(
                self._dead,
                {"kind": r.kind_of(record), "record": r.to_json(record), "error": error},
                maxlen=100_000,
                approximate=True,
            )
        except RedisError as exc:  # its dead letter row is kept all the same
            log.warning("dead_stream_unavailable", error=brief(exc))

    async def _set_aside_entry(
        self, stream: str, entry_id: bytes, fields: dict[bytes, bytes], error: Exception
    ) -> None:
        payload = json.dumps(
            {
                "stream": stream,
                "entry": _text(entry_id),
                "fields": {
                    _text(k): base64.b64encode(v).decode() for k, v in _pairs(fields.items())
                },
            }
        )
        text = brief(error)
        await self._store.keep_letter(
            letter_row(
                tenant_id=None,
                kind="unreadable",
                record_id=f"{stream}:{_text(entry_id)}",
                error=text,
                payload=payload,
                source=f"stream:{self.name}",
                at=utcnow(),
            )
        )
        await self._redis.xadd(
            self._dead, {"kind": "unreadable", "record": payload, "error": text}, maxlen=100_000
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _pairs(items: Iterable[tuple[Any, Any]]) -> Iterable[tuple[Any, bytes]]:
    for key, value in items:
        yield key, value if isinstance(value, bytes) else str(value).encode()
