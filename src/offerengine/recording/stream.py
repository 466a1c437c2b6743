"""Records on Redis streams: appended before the answer is sent, stored by consumers.

With ``records = stream`` (the default when Redis is configured), :meth:`StreamRecorder.record`
appends each record to one of ``records_shards`` Redis streams (``<prefix>:records:<n>``, taken in
turn) and returns only once Redis has acknowledged every append: an answer is sent only after its
records are durable to the extent Redis is (docs/operations.md gives the AOF settings this relies
on). Consumers (:mod:`offerengine.recording.consumer`) read the streams as one consumer group and
store the records in bulk.

Searches, decisions and quotes (and the offer bodies searches make) are also kept under a key of
their own for ``young_records_seconds`` (``<prefix>:young:<kind>:<id>``), written in the same round
trip: any worker finds a young record there before a consumer has stored it (an order of an offer
just shown, feedback about a decision just made, a quote just answered and accepted).

A record is msgpack (msgspec, tagged by kind), framed by LZ4 when it is larger than a kilobyte
(and ASCII JSON in the rare case msgpack cannot carry its text: see :func:`encode`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any, TypeVar, cast

import lz4.frame
import msgspec
from redis.exceptions import RedisError

from offerengine import budget
from offerengine.errors import Unavailable
from offerengine.observability.metrics import Metrics
from offerengine.recording import records as r
from offerengine.redis_line import RedisLine

GROUP = "offerengine-records"
FLUSH_SECONDS = 30.0
_COMPRESS_OVER = 1024
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(r.AnyRecord)
_body_decoder = msgspec.msgpack.Decoder(r.OfferBody)
_YOUNG = frozenset({"search", "decision", "quote"})
T = TypeVar("T")


def encode(value: msgspec.Struct) -> bytes:
    """A record (or an offer body) as the streams carry it: msgpack, LZ4-framed when large; as
    ASCII JSON when it holds text that UTF-8 cannot encode (a lone surrogate), so that it still
    reaches a consumer, whose database refuses it into the dead letters."""
    try:
        raw = _encoder.encode(value)
    except UnicodeEncodeError:
        return b"j" + json.dumps(msgspec.to_builtins(value), ensure_ascii=True).encode()
    if len(raw) > _COMPRESS_OVER:
        return b"z" + bytes(lz4.frame.compress(raw))
    return b"m" + raw


def _decode(data: bytes, decoder: msgspec.msgpack.Decoder[T], kind: Any) -> T:
    frame, body = data[:1], data[1:]
    if frame == b"m":
        return decoder.decode(body)
    if frame == b"z":
        return decoder.decode(lz4.frame.decompress(body))
    if frame == b"j":
        return cast(T, msgspec.convert(json.loads(body), kind))
    raise ValueError("not a record: unknown framing")


def decode(data: bytes) -> r.AnyRecord:
    """A record from :func:`encode`'s bytes (``ValueError``/``msgspec`` errors if not one)."""
    found: r.AnyRecord = _decode(data, _decoder, r.AnyRecord)
    return found


def decode_body(data: bytes) -> r.OfferBody:
    return _decode(data, _body_decoder, r.OfferBody)


def entry_order(entry_id: bytes | str) -> tuple[int, int]:
    """A stream entry id (``1700000000000-3``) as numbers that sort as Redis sorts them."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def stream_names(prefix: str, shards: int) -> list[str]:
    return [f"{prefix}:records:{n}" for n in range(shards)]


def dead_stream_name(prefix: str) -> str:
    return f"{prefix}:records:dead"


def young_key(prefix: str, key: tuple[Any, ...]) -> str:
    return f"{prefix}:young:{key[0]}:{':'.join(str(part) for part in key[1:])}"


class StreamRecorder:
    """Records onto Redis streams (see the module's doc), with the embedded recorder's
    interface."""

    def __init__(
        self,
        line: RedisLine,
        *,
        prefix: str,
        shards: int,
        young_seconds: int,
        metrics: Metrics | None = None,
    ) -> None:
        self._line = line
        self._prefix = prefix
        self._streams = stream_names(prefix, shards)
        self._turn = itertools.cycle(self._streams)
        self._young_ms = young_seconds * 1000
        self._metrics = metrics
        self.last_ids: dict[str, bytes] = {}  # per stream, the last entry this worker appended

    async def record(self, *records: r.Record) -> None:
        """Append ``records`` (and keep the young copies); return once Redis has them all."""
        if not records:
            return
        budget.commit()  # past the request's time budget: refused, nothing appended
        commands: list[tuple[Any, ...]] = []
        streams: list[str] = []
        prefix, ttl = self._prefix, self._young_ms
        for record in records:
            payload = encode(record)
            stream = next(self._turn)
            streams.append(stream)
            commands.append(("XADD", stream, "*", "r", payload))
            key = record.key
            if key[0] in _YOUNG:
                commands.append(("SET", young_key(prefix, key), payload, "PX", ttl))
                if isinstance(record, r.Search):
                    for body in record.bodies:
                        commands.append(
                            ("SET", young_key(prefix, ("body", body.id)), encode(body), "PX", ttl)
                        )
        try:
            replies = await self._line.execute_many(commands)
        except (RedisError, OSError) as exc:  # not recorded: the answer must not be sent
            raise Unavailable(
                "Redis, where answers are recorded, cannot be reached; nothing was answered."
            ) from exc
        entry_ids = (
            reply for command, reply in zip(commands, replies, strict=True) if command[0] == "XADD"
        )
        for stream, entry_id in zip(streams, entry_ids, strict=True):
            self.last_ids[stream] = entry_id
        if self._metrics is not None:
            self._metrics.observe_appended(records)

    async def young(self, key: tuple[Any, ...]) -> r.Record | None:
        """A searched, decided or quoted record by its key, while its young copy lasts."""
        if key[0] not in _YOUNG:
            return None
        try:
            found = await self._line.execute("GET", young_key(self._prefix, key))
        except (RedisError, OSError) as exc:
            raise Unavailable("Redis, where young records are kept, cannot be reached.") from exc
        return None if found is None else decode(found)

    async def young_body(self, body_id: str) -> r.OfferBody | None:
        try:
            found = await self._line.execute("GET", young_key(self._prefix, ("body", body_id)))
        except (RedisError, OSError) as exc:
            raise Unavailable("Redis, where young records are kept, cannot be reached.") from exc
        return None if found is None else decode_body(found)

    async def flush(self) -> int:
        """Wait until consumers have stored (or set aside) every record this worker appended
        (tests, benchmarks and graceful handovers), up to ``FLUSH_SECONDS``; 0, as nothing is
        written here."""
        timeout = FLUSH_SECONDS
        deadline = time.monotonic() + timeout
        for stream, last in list(self.last_ids.items()):
            while not await self._consumed(stream, last):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"records appended to {stream} up to {last.decode()} were not consumed "
                        f"within {timeout:g} s: is a consumer running (`offerengine consume`)?"
                    )
                await asyncio.sleep(0.01)
        return 0

    async def _consumed(self, stream: str, last: bytes) -> bool:
        groups = await self._line.execute("XINFO", "GROUPS", stream)
        delivered = None
        for group in groups:
            info = dict(zip(group[::2], group[1::2], strict=True))
            if info[b"name"] == GROUP.encode():
                delivered = info[b"last-delivered-id"]
        if delivered is None or entry_order(delivered) < entry_order(last):
            return False
        waiting = await self._line.execute("XPENDING", stream, GROUP, "-", last, 1)
        return not waiting

    async def catch_up(self) -> None:
        """Nothing waits here: Redis holds the backlog, and consumers work it off."""

    def start(self) -> None:
        """Nothing runs in the background: every record is appended as it comes."""

    async def stop(self) -> None:
        """Nothing is pending: every record was appended before its answer."""
