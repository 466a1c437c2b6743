"""The broker-neutral half of event ingestion: an :class:`EventIngestor` settles a batch of
:class:`Message` s (read and validated, stored by tenant in chunks, dead-lettered when they cannot
be stored) and says what to tell the broker about each (:class:`Outcome`); steps 1 to 3 of the
package's doc."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine import text
from offerengine.db.base import utcnow
from offerengine.errors import Invalid, NotFound
from offerengine.events import service as events
from offerengine.events.schemas import MAX_EVENTS, EventIn
from offerengine.observability.logging import get_logger
from offerengine.recording.store import (
    brief,
    dead_letter_statement,
    error_kind,
    is_outage,
    letter_row,
)
from offerengine.snapshots.core import Snapshot
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
                "event_message_dead_lettered",
                message=letter.message.broker_id,
                error=error_kind(letter.error),
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
