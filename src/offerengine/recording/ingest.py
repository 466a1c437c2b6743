"""External events from brokers: a NATS JetStream subject and a Redis stream, read by
`offerengine consume` and stored as `POST /v1/events` stores them.

A message holds what `POST /v1/events` takes (one event, or ``{"events": [...]}``) for one tenant:
a NATS message's subject ends with the tenant's code or id (``offerengine.events.OE``); a Redis
entry has the fields ``tenant`` and ``event``. Each batch of messages taken from a broker is
settled so:

1. Each message is read: its tenant's snapshot found, its text checked as a request body is
   (:func:`text.check_json`), its events validated by the same schemas and rules
   (:func:`events.service.parse`). An event without ``event_id`` gets one from the broker's own
   id for the message (``nats:<stream>:<stream sequence>``, or ``nats:<stream>:msg:<Nats-Msg-Id>``
   when the publisher set that header; ``redis:<stream>:<entry id>``; ``:<i>`` appended for the
   i-th event of a batch), so that a message delivered again carries the same ids.
2. The messages of one tenant are stored together through :func:`events.service.ingest`, in one
   transaction: an event whose id is stored already is skipped, and only the new ones count
   (learning, profiles' aggregates, caps). Should the events be refused (a decision that was not
   made, a time in the future), each message is stored on its own to find the ones at fault.
3. A message that cannot be stored whatever the retries (not JSON, invalid, an unknown or
   suspended tenant) is kept in ``dead_letters`` (kind ``event``, its broker id, the error, and
   ``{"tenant": …, "event": …}`` as ASCII JSON) and acknowledged; so is one that failed
   ``events_max_deliveries`` times for an unexpected reason.
4. Only then are messages acknowledged: stored or dead-lettered. A database outage leaves them
   unacknowledged (NATS: a nak with a delay; Redis: pending), so they come again.

Delivery is at least once, storage exactly once: a consumer that dies between the commit and the
acknowledgement has its messages delivered again (JetStream after its ack wait, Redis when another
consumer claims the idle entries), and their event ids are found stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine import text
from offerengine.db.base import utcnow
from offerengine.db.engine import create_engine
from offerengine.errors import Invalid, NotFound
from offerengine.events import service as events
from offerengine.events.schemas import MAX_EVENTS, EventIn
from offerengine.observability.logging import get_logger
from offerengine.recording.consumer import consumer_name
from offerengine.recording.store import brief, dead_letter_statement, is_outage, letter_row
from offerengine.settings import Settings
from offerengine.snapshots import build as snapshots
from offerengine.snapshots.core import Snapshot
from offerengine.snapshots.feed import ChangeFeed, channel_name
from offerengine.snapshots.store import SnapshotStore
from offerengine.tenants import service as tenants

log = get_logger("offerengine.ingest")
KIND = "event"  # the dead letters' kind
RETRY_SECONDS = 1.0  # how long a message waits after the database was away


class Outcome(Enum):
    """What became of a message: acknowledge it (stored, or dead-lettered), or have it again."""

    STORED = "stored"
    DEAD = "dead"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class Message:
    """One broker message, as the brokers' consumers hand it over."""

    broker_id: str  # the message's id at its broker (a dead letter's record id)
    ids: str  # what its events' missing ids are made from
    source: str  # nats:<subject>, redis:<stream>
    tenant: str  # the tenant's code or id
    body: bytes
    deliveries: int = 1  # this one included


@dataclass
class _Read:
    message: Message
    snapshot: Snapshot
    events: list[EventIn]


@dataclass
class _Letter:
    message: Message
    tenant_id: uuid.UUID | None
    error: str


@dataclass
class _Settling:
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    letters: list[tuple[int, _Letter]] = field(default_factory=list)


class EventIngestor:
    """Settles batches of broker messages (see the module's doc); broker-neutral."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        is_sqlite: bool,
        snapshots: SnapshotStore,
        redis: Redis | None,
        redis_prefix: str,
        max_deliveries: int,
    ) -> None:
        """``redis`` is where the caps' counters live when the API's workers have Redis (the same
        ``redis_url``); ``snapshots`` the tenants' compiled configuration, kept fresh by the
        caller."""
        self._session_factory = session_factory
        self._is_sqlite = is_sqlite
        self._snapshots = snapshots
        self._max_deliveries = max_deliveries
        self._tenant_ids: dict[str, uuid.UUID] = {}
        self.sinks = events.EventSinks(
            session_factory=session_factory,
            transaction=self._transaction,
            redis=redis,
            redis_prefix=redis_prefix,
        )

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._session_factory() as session:
            if self._is_sqlite:
                await session.connection(execution_options={"sqlite_immediate": True})
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def settle(self, messages: Sequence[Message]) -> list[Outcome]:
        """Store ``messages`` (or set them aside); what to tell the broker about each."""
        settling = _Settling()
        good: list[tuple[int, _Read]] = []
        for i, message in enumerate(messages):
            try:
                found = await self._read(message)
            except Exception as exc:
                self._failed(settling, i, message, exc)
                continue
            if isinstance(found, _Letter):
                settling.letters.append((i, found))
            else:
                good.append((i, found))
        by_tenant: dict[uuid.UUID, list[tuple[int, _Read]]] = {}
        for i, read in good:
            by_tenant.setdefault(read.snapshot.tenant.id, []).append((i, read))
        for group in by_tenant.values():
            for chunk in _chunks(group):
                await self._store(settling, chunk)
        if settling.letters:
            await self._set_aside(settling)
        return [settling.outcomes.get(i, Outcome.RETRY) for i in range(len(messages))]

    async def _read(self, message: Message) -> _Read | _Letter:
        """The message's snapshot and events, or the dead letter it makes."""
        snapshot = await self._snapshot(message.tenant)
        if snapshot is None:
            return _Letter(message, None, f"No tenant {message.tenant!r}.")
        if snapshot.tenant.status != "active":
            return _Letter(message, snapshot.tenant.id, f"The tenant is {snapshot.tenant.status}.")
        try:
            text.check_json(message.body)
            found = events.parse(message.body)
        except Invalid as exc:
            return _Letter(message, snapshot.tenant.id, _invalid(exc))
        return _Read(message, snapshot, _with_ids(found, message.ids))

    async def _snapshot(self, ref: str) -> Snapshot | None:
        for _ in range(2):  # a cached code may name a tenant deleted since
            tenant_id = self._tenant_ids.get(ref)
            if tenant_id is None:
                async with self._session_factory() as session:
                    found = await tenants.find(session, ref)
                if found is None:
                    return None
                tenant_id = self._tenant_ids[ref] = found.id
            try:
                return await self._snapshots.get(tenant_id)
            except NotFound:
                self._tenant_ids.pop(ref, None)
        return None

    async def _store(self, settling: _Settling, chunk: list[tuple[int, _Read]]) -> None:
        """Store the chunk's messages (one tenant's) together; refused, each on its own."""
        try:
            await self._ingest([read for _, read in chunk])
        except Invalid as exc:
            if len(chunk) > 1:
                for one in chunk:
                    await self._store(settling, [one])
                return
            i, read = chunk[0]
            settling.letters.append(
                (i, _Letter(read.message, read.snapshot.tenant.id, _invalid(exc)))
            )
            return
        except Exception as exc:
            for i, read in chunk:
                self._failed(settling, i, read.message, exc)
            return
        for i, _ in chunk:
            settling.outcomes[i] = Outcome.STORED

    async def _ingest(self, reads: list[_Read]) -> None:
        await events.ingest(
            sinks=self.sinks,
            snapshot=reads[0].snapshot,
            events=[e for read in reads for e in read.events],
            now=utcnow(),
        )

    def _failed(self, settling: _Settling, i: int, message: Message, error: Exception) -> None:
        """A message that failed for another reason than its content: again, unless the
        database is up and it failed too often."""
        if is_outage(error) or message.deliveries < self._max_deliveries:
            if not is_outage(error):
                log.warning("event_message_failed", message=message.broker_id, error=brief(error))
            settling.outcomes[i] = Outcome.RETRY
            return
        error_text = f"failed {message.deliveries} times; last: {brief(error)}"
        settling.letters.append((i, _Letter(message, None, error_text)))

    async def _set_aside(self, settling: _Settling) -> None:
        at = utcnow()
        rows = [
            letter_row(
                tenant_id=letter.tenant_id,
                kind=KIND,
                record_id=letter.message.broker_id,
                error=letter.error,
                payload=_payload(letter.message),
                source=letter.message.source,
                at=at,
            )
            for _, letter in settling.letters
        ]
        try:
            async with self._transaction() as session:
                dialect = (await session.connection()).dialect.name
                await session.execute(dead_letter_statement(dialect), rows)
        except Exception as exc:
            log.warning("event_dead_letters_not_written", error=brief(exc))
            return  # they stay unacknowledged, and come again
        for i, letter in settling.letters:
            log.warning(
                "event_message_dead_lettered", message=letter.message.broker_id, error=letter.error
            )
            settling.outcomes[i] = Outcome.DEAD


def _chunks(group: list[tuple[int, _Read]]) -> list[list[tuple[int, _Read]]]:
    """Consecutive messages of up to ``MAX_EVENTS`` events in all (a bigger message alone)."""
    chunks: list[list[tuple[int, _Read]]] = []
    size = 0
    for item in group:
        n = len(item[1].events)
        if not chunks or size + n > MAX_EVENTS:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += n
    return chunks


def _with_ids(found: list[EventIn], ids: str) -> list[EventIn]:
    """The events, each without an ``event_id`` given one made from the message's id."""
    made = [ids] if len(found) == 1 else [f"{ids}:{i}" for i in range(len(found))]
    return [
        e if e.event_id is not None else e.model_copy(update={"event_id": m[:200]})
        for e, m in zip(found, made, strict=True)
    ]


def _invalid(error: Invalid) -> str:
    details = "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in error.errors)
    return f"{error}" + (f" [{details}]" if details and len(error.errors) > 1 else "")


def _payload(message: Message) -> str:
    """The message as ASCII JSON: its tenant, and its event as JSON when it is JSON, else as the
    text it is (undecodable bytes escaped)."""
    raw = message.body.decode("utf-8", "backslashreplace")
    try:
        event: Any = json.loads(raw)
    except ValueError:
        event = raw
    return json.dumps({"tenant": message.tenant, "event": event}, ensure_ascii=True)


# --- NATS JetStream ---------------------------------------------------------------------------


class NatsConsumer:
    """A durable pull consumer of the events' JetStream stream (created when missing)."""

    def __init__(
        self,
        ingestor: EventIngestor,
        *,
        url: str,
        stream: str,
        subject: str,
        durable: str,
        batch: int = 100,
        ack_wait: float = 30.0,
    ) -> None:
        self._ingestor = ingestor
        self._url = url
        self._stream = stream
        self._subject = subject
        self._durable = durable
        self._batch = batch
        self._ack_wait = ack_wait

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set (or cancelled); connect again after NATS was away."""
        stop = stop or asyncio.Event()
        backoff = 0.5
        while not stop.is_set():
            try:
                await self._consume(stop)
                return
            except (OSError, nats.errors.Error) as exc:
                log.warning("nats_unavailable", url=self._url, error=repr(exc), retry_in=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 10.0)

    async def _consume(self, stop: asyncio.Event) -> None:
        client = await nats.connect(
            self._url, name="offerengine-consume", connect_timeout=2, max_reconnect_attempts=-1
        )
        try:
            js = client.jetstream()
            try:
                await js.stream_info(self._stream)
            except nats.js.errors.NotFoundError:
                await js.add_stream(name=self._stream, subjects=[self._subject])
            subscription = await js.pull_subscribe(
                self._subject,
                durable=self._durable,
                stream=self._stream,
                config=ConsumerConfig(ack_wait=self._ack_wait, max_ack_pending=10 * self._batch),
            )
            while not stop.is_set():
                try:
                    taken = await subscription.fetch(self._batch, timeout=1.0)
                except (nats.errors.TimeoutError, TimeoutError):  # nothing came
                    continue
                outcomes = await self._ingestor.settle([self._message(m) for m in taken])
                for message, outcome in zip(taken, outcomes, strict=True):
                    await self.acknowledge(message, outcome)
        finally:
            with contextlib.suppress(Exception):
                await client.flush(timeout=2)
            await client.close()

    async def acknowledge(self, message: Msg, outcome: Outcome) -> None:
        """Tell JetStream what became of the message."""
        if outcome is Outcome.STORED:
            await message.ack()
        elif outcome is Outcome.DEAD:
            await message.term()
        else:
            await message.nak(delay=RETRY_SECONDS)

    def _message(self, message: Msg) -> Message:
        sequence = message.metadata.sequence.stream
        broker_id = f"nats:{self._stream}:{sequence}"
        msg_id = (message.headers or {}).get("Nats-Msg-Id")
        return Message(
            broker_id=broker_id,
            ids=f"nats:{self._stream}:msg:{msg_id}" if msg_id else broker_id,
            source=f"nats:{message.subject}",
            tenant=message.subject.rsplit(".", 1)[-1],
            body=message.data,
            deliveries=message.metadata.num_delivered or 1,
        )


# --- Redis stream -------------------------------------------------------------------------------


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


# --- the entry point ----------------------------------------------------------------------------


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
