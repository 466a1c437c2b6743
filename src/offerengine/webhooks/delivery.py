"""Each worker's deliverer: a loop that claims due deliveries from the outbox, signs and sends
them, and records every attempt.

A round claims up to ``batch`` due rows under a lease (:func:`outbox.claim`), with the secrets
of their tenants, in one short write transaction; sends them side by side, outside any
transaction; and records each attempt in a short transaction of its own. A round runs every
``poll_seconds``, at once when this worker wrote a delivery (:meth:`Deliverer.wake`), and again
straight away while rounds find full batches. The lease outlasts an attempt (its timeout) with
room to spare, so that only a deliverer that died leaves a lease to run out; its deliveries are
then claimed again: at least once, and receivers drop duplicates by the delivery id.

Between rounds, once at start and then every ``Retention.every_seconds``, the deliverer prunes
the outbox (:func:`outbox.prune`): settled deliveries past their retention go with their attempts,
a batch per short transaction, a bounded number of batches at a time (a backlog is worked off
over the following rounds, so that deliveries never wait long behind it). Every worker prunes;
two that prune at once delete each row once.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.clock import utcnow
from offerengine.db.session import write_transaction
from offerengine.observability.logging import get_logger
from offerengine.webhooks import core, outbox
from offerengine.webhooks.sending import Sender

log = get_logger("offerengine.webhooks")


@dataclass(frozen=True, slots=True)
class Retention:
    """How long settled deliveries are kept, and how often the outbox is pruned."""

    delivered_seconds: float
    failed_seconds: float
    every_seconds: float = 3600.0
    batch: int = 500
    batches_at_a_time: int = 20


@dataclass(frozen=True, slots=True)
class Retries:
    """How a failed delivery is tried again: the first wait (doubled each time) and the cap."""

    first_seconds: float
    max_seconds: float


class Deliverer:
    """A worker's deliverer: :meth:`deliver_due` makes one round; :meth:`start` runs rounds in
    the background until :meth:`stop`. It has ``session_factory`` and ``is_sqlite``, so it opens
    its short transactions as a use case does (:func:`write_transaction`)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        is_sqlite: bool,
        sender: Sender,
        retries: Retries,
        poll_seconds: float,
        lease_seconds: float,
        retention: Retention | None = None,
        batch: int = 10,
    ) -> None:
        self.session_factory = session_factory
        self.is_sqlite = is_sqlite
        self._sender = sender
        self._retries = retries
        self._poll_seconds = poll_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._batch = batch
        self._retention = retention
        self._prune_at = 0.0  # monotonic time of the next pruning: at once, then every so often
        self._woken = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="webhook-deliverer")

    def wake(self) -> None:
        """Look for due deliveries now (one was just written), not at the next poll."""
        self._woken.set()

    async def stop(self, grace_seconds: float) -> None:
        """Stop after the round under way (at most ``grace_seconds``); a delivery cut short keeps
        its lease until it runs out, and is sent again then."""
        if self._task is not None:
            self._stopping = True
            self._woken.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=grace_seconds)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        await self._sender.close()

    async def deliver_due(self) -> int:
        """Claim the due deliveries (a batch at most) and make an attempt at each; how many."""
        now = utcnow()
        async with self.session_factory() as session:
            if not await outbox.any_due(session, now=now):
                return 0
        lease = secrets.token_hex(16)
        async with write_transaction(self) as session:
            claimed = await outbox.claim(
                session, now=now, lease=lease, lease_for=self._lease, limit=self._batch
            )
            signing = await outbox.secrets_of(session, {c.tenant_id for c in claimed}, now)
        done = await asyncio.gather(
            *(self._attempt(c, signing[c.tenant_id]) for c in claimed), return_exceptions=True
        )
        for claimed_one, error in zip(claimed, done, strict=True):
            if isinstance(error, BaseException):  # not recorded: its lease runs out, then again
                log.warning(
                    "webhook_attempt_unrecorded", delivery=str(claimed_one.id), error=str(error)
                )
        return len(claimed)

    async def prune(self) -> tuple[int, bool]:
        """Delete settled deliveries past their retention, a batch per transaction and at most
        ``batches_at_a_time`` batches; how many, and whether some may be left."""
        retention = self._retention
        if retention is None:
            return 0, False
        now = utcnow()
        delivered_before = now - timedelta(seconds=retention.delivered_seconds)
        failed_before = now - timedelta(seconds=retention.failed_seconds)
        async with self.session_factory() as session:
            if not await outbox.any_prunable(
                session, delivered_before=delivered_before, failed_before=failed_before
            ):
                return 0, False
        pruned = 0
        for _ in range(retention.batches_at_a_time):
            async with write_transaction(self) as session:
                gone = await outbox.prune(
                    session,
                    delivered_before=delivered_before,
                    failed_before=failed_before,
                    limit=retention.batch,
                )
            pruned += gone
            if gone < retention.batch:
                return pruned, False
        return pruned, True

    async def _prune_when_due(self) -> None:
        if self._retention is None or time.monotonic() < self._prune_at:
            return
        # Should this pruning fail (the database away), the next is in a minute, and meanwhile
        # the rounds deliver as ever.
        self._prune_at = time.monotonic() + min(60.0, self._retention.every_seconds)
        pruned, more = await self.prune()
        # A backlog goes on after the next round, not after the interval.
        wait = self._poll_seconds if more else self._retention.every_seconds
        self._prune_at = time.monotonic() + wait
        if pruned:
            log.info("webhook_outbox_pruned", deliveries=pruned, more=more)

    async def _attempt(self, claimed: outbox.Claimed, signing: list[str]) -> None:
        started_at = utcnow()
        body = claimed.body.encode("utf-8")
        headers = {
            core.SIGNATURE_HEADER: core.signature_header(signing, int(time.time()), body),
            core.DELIVERY_HEADER: str(claimed.id),
            core.EVENT_HEADER: claimed.event_type,
        }
        outcome = await self._sender.post(claimed.url, body, headers)
        then = core.after(
            outcome,
            attempt=claimed.attempt,
            limit=claimed.attempt_limit,
            first=self._retries.first_seconds,
            cap=self._retries.max_seconds,
        )
        async with write_transaction(self) as session:
            kept = await outbox.record(
                session, claimed, outcome, then, started_at=started_at, now=utcnow()
            )
        _log_attempt(claimed, outcome, then, kept)

    async def _run(self) -> None:
        while not self._stopping:
            self._woken.clear()  # before the round: a wake during it calls for another
            try:
                await self._prune_when_due()
                if await self.deliver_due() >= self._batch:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be briefly away; try again next round
                log.warning("webhook_round_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout=self._poll_seconds)


def _log_attempt(
    claimed: outbox.Claimed, outcome: core.Outcome, then: core.Next, kept: bool
) -> None:
    """One line per attempt: never the URL (it may hold a token), the body or a secret."""
    fields: dict[str, str | int | bool | None] = {
        "delivery": str(claimed.id),
        "tenant": str(claimed.tenant_id),
        "attempt": claimed.attempt,
        "status_code": outcome.status_code,
        "outcome": then.status,
    }
    if not kept:
        fields["lease_lost"] = True
    if outcome.delivered:
        log.info("webhook_delivered", **fields)
    else:
        log.warning("webhook_attempt_failed", error=outcome.error, **fields)


def lease_seconds(timeout_seconds: float) -> float:
    """A lease that outlasts an attempt with room to spare (recording it included)."""
    return timeout_seconds * 2 + 30
