"""Webhook deliveries from the outbox, on SQLite and PostgreSQL, to a real receiver on this
machine: signed so that the receiver can check them; refused when the destination resolves to a
non-public address; retried with backoff, every attempt logged; sent once even when two
deliverers share the database; claimed again when the deliverer that leased one died."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from offerengine.auth.core import Actor, ActorKind
from offerengine.clock import utcnow
from offerengine.db.engine import create_engine
from offerengine.db.session import write_transaction
from offerengine.errors import Conflict
from offerengine.tenants import service as tenants
from offerengine.tenants.schemas import TenantCreate
from offerengine.webhooks import core, outbox
from offerengine.webhooks import service as webhooks
from offerengine.webhooks.delivery import Deliverer, Retention, Retries
from offerengine.webhooks.models import WebhookAttempt, WebhookDelivery
from offerengine.webhooks.sending import Resolver, Sender, resolve
from tests.receiver import receiving

SYSTEM = Actor(ActorKind.SYSTEM, None, "test")


class Database:
    """A migrated database with one tenant, and deliverers working on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engines: list[AsyncEngine] = []
        self.deliverers: list[Deliverer] = []
        self.main = self.sessions()
        self.tenant_id = uuid.UUID(int=0)

    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """A session factory on an engine of its own (as another worker has)."""
        engine = create_engine(self.url, pool_size=5)
        self.engines.append(engine)
        return async_sessionmaker(engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        return self.main

    def deliverer(
        self,
        *,
        allow_private: bool = True,
        resolver: Resolver = resolve,
        first_retry: float = 0.05,
        batch: int = 10,
        retention: Retention | None = None,
        ca_bundle: Path | None = None,
    ) -> Deliverer:
        sender = Sender(
            timeout=5, allow_private=allow_private, resolver=resolver, ca_bundle=ca_bundle
        )
        deliverer = Deliverer(
            self.sessions(),
            is_sqlite=self.is_sqlite,
            sender=sender,
            retries=Retries(first_retry, 1.0),
            poll_seconds=0.05,
            lease_seconds=60,
            retention=retention,
            batch=batch,
        )
        self.deliverers.append(deliverer)
        return deliverer

    async def enqueue(self, url: str, count: int = 1, attempt_limit: int = 5) -> list[uuid.UUID]:
        async with write_transaction(self) as session:
            made = [
                webhooks.enqueue(
                    session,
                    tenant_id=self.tenant_id,
                    event_type="low_inventory",
                    url=url,
                    payload={"type": "low_inventory", "n": n},
                    now=utcnow(),
                    attempt_limit=attempt_limit,
                )
                for n in range(count)
            ]
            await session.flush()
            return [d.id for d in made]

    async def delivery(self, delivery_id: uuid.UUID) -> webhooks.DeliveryLog:
        async with self.main() as session:
            found = await webhooks.list_deliveries(session, tenant_id=self.tenant_id, limit=500)
        return next(d for d in found if d.delivery.id == delivery_id)

    async def count(self, query: Any) -> int:
        async with self.main() as session:
            return int(await session.scalar(query) or 0)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    async with write_transaction(database) as session:
        tenant = await tenants.create(
            session,
            data=TenantCreate(code="WH", name="Webhooks", kind="airline", base_currency="USD"),
            actor=SYSTEM,
        )
        database.tenant_id = tenant.id
    try:
        yield database
    finally:
        for deliverer in database.deliverers:
            await deliverer.stop(grace_seconds=5)
        for engine in database.engines:
            await engine.dispose()


async def _until(check: Any, seconds: float = 15.0) -> None:
    """Poll ``check()`` (async) until it is true, or fail at the deadline."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "not reached before the deadline"
        await asyncio.sleep(0.02)


async def test_a_delivery_is_signed_so_that_the_receiver_can_verify_it(db: Database) -> None:
    with receiving() as receiver:
        [delivery_id] = await db.enqueue(receiver.url)
        assert await db.deliverer().deliver_due() == 1
        [got] = receiver.wait_for(1)
    secret = await webhooks.read_secret(db, tenant_id=db.tenant_id, now=utcnow())
    assert secret.secret.startswith("whsec_")
    header = got.headers[core.SIGNATURE_HEADER]
    assert core.verify(header, got.body, secret.secret, now=int(time.time()))
    assert not core.verify(header, got.body, "whsec_another", now=int(time.time()))
    assert got.headers[core.DELIVERY_HEADER] == str(delivery_id)
    assert got.headers[core.EVENT_HEADER] == "low_inventory"
    assert got.headers["Content-Type"] == "application/json"
    assert json.loads(got.body) == {"type": "low_inventory", "n": 0}
    found = await db.delivery(delivery_id)
    assert found.delivery.status == core.DELIVERED
    assert [(a.attempt, a.status_code, a.address) for a in found.attempts] == [
        (1, 204, "127.0.0.1")
    ]


async def test_after_a_rotation_both_secrets_sign_until_the_grace_ends(db: Database) -> None:
    before = await webhooks.read_secret(db, tenant_id=db.tenant_id, now=utcnow())
    async with write_transaction(db) as session:
        after = await webhooks.rotate_secret(
            session, tenant_id=db.tenant_id, actor=SYSTEM, now=utcnow()
        )
    assert after.secret != before.secret
    with receiving() as receiver:
        await db.enqueue(receiver.url)
        await db.deliverer().deliver_due()
        [got] = receiver.wait_for(1)
    header = got.headers[core.SIGNATURE_HEADER]
    for secret in (after.secret, before.secret):
        assert core.verify(header, got.body, secret, now=int(time.time()))


async def test_a_destination_resolving_to_a_private_address_is_refused_at_delivery(
    db: Database,
) -> None:
    async def rebinding(host: str, port: int) -> list[core.IPAddress]:
        # The name passed the check when saved; now it resolves to this machine.
        return await resolve("127.0.0.1" if host == "hooks.example.com" else host, port)

    with receiving() as receiver:
        named = f"http://hooks.example.com:{receiver.port}/hook"
        assert core.url_refusal(named, allow_private=False) is None
        ids = await db.enqueue(named)
        ids += await db.enqueue(f"http://localhost:{receiver.port}/hook")
        ids += await db.enqueue(receiver.url)
        deliverer = db.deliverer(allow_private=False, resolver=rebinding)
        assert await deliverer.deliver_due() == 3
        assert receiver.received == []
    for delivery_id in ids:
        found = await db.delivery(delivery_id)
        assert found.delivery.status == core.FAILED  # refused: not tried again
        [attempt] = found.attempts
        assert attempt.error is not None
        assert attempt.error.startswith("refused: ")
        assert "is not a public address" in attempt.error
        assert attempt.status_code is None


async def test_the_delivery_connects_to_the_vetted_address_with_the_named_host(
    db: Database,
) -> None:
    async def to_loopback(host: str, port: int) -> list[core.IPAddress]:
        return await resolve("127.0.0.1", port)

    with receiving() as receiver:
        await db.enqueue(f"http://Hooks.Example.com:{receiver.port}/in?x=1")
        await db.deliverer(allow_private=True, resolver=to_loopback).deliver_due()
        [got] = receiver.wait_for(1)
    assert got.headers["Host"] == f"Hooks.Example.com:{receiver.port}"
    assert got.path == "/in?x=1"


async def test_failed_attempts_are_retried_with_backoff_and_each_is_logged(db: Database) -> None:
    with receiving(statuses=[500, 503]) as receiver:
        [delivery_id] = await db.enqueue(receiver.url)
        deliverer = db.deliverer(first_retry=0.2)

        async def delivered() -> bool:
            await deliverer.deliver_due()
            return (await db.delivery(delivery_id)).delivery.status == core.DELIVERED

        await _until(delivered)
        assert len(receiver.received) == 3
    found = await db.delivery(delivery_id)
    assert [(a.attempt, a.status_code, a.delivered) for a in found.attempts] == [
        (1, 500, False),
        (2, 503, False),
        (3, 204, True),
    ]
    starts = [a.started_at for a in found.attempts]
    # The waits double: at least 0.2 s after the first failure, 0.4 s after the second.
    assert starts[1] - starts[0] >= timedelta(seconds=0.2)
    assert starts[2] - starts[1] >= timedelta(seconds=0.4)
    assert all(a.duration_ms >= 0 for a in found.attempts)


async def test_a_delivery_fails_after_its_last_attempt(db: Database) -> None:
    with receiving(statuses=[500, 500, 500, 500]) as receiver:
        [delivery_id] = await db.enqueue(receiver.url, attempt_limit=2)
        deliverer = db.deliverer(first_retry=0.05)

        async def failed() -> bool:
            await deliverer.deliver_due()
            return (await db.delivery(delivery_id)).delivery.status == core.FAILED

        await _until(failed)
    found = await db.delivery(delivery_id)
    assert [a.attempt for a in found.attempts] == [1, 2]
    assert found.delivery.last_status_code == 500


async def test_two_deliverers_on_one_database_send_each_delivery_once(db: Database) -> None:
    with receiving() as receiver:
        ids = await db.enqueue(receiver.url, count=40)
        first, second = db.deliverer(batch=5), db.deliverer(batch=5)

        async def drain(deliverer: Deliverer) -> None:
            while await deliverer.deliver_due():
                pass

        async def all_delivered() -> bool:
            await asyncio.gather(drain(first), drain(second))
            pending = sa.select(sa.func.count()).where(WebhookDelivery.status != core.DELIVERED)
            return await db.count(pending) == 0

        await _until(all_delivered)
        got = receiver.wait_for(40)
    sent = [r.headers[core.DELIVERY_HEADER] for r in got]
    assert sorted(sent) == sorted(str(i) for i in ids)  # each once, none twice
    delivered = sa.select(sa.func.count()).where(WebhookAttempt.delivered.is_(True))
    assert await db.count(delivered) == 40


async def test_a_lease_keeps_others_off_until_it_runs_out(db: Database) -> None:
    with receiving() as receiver:
        [delivery_id] = await db.enqueue(receiver.url)
        async with write_transaction(db) as session:  # a deliverer that then died
            [held] = await outbox.claim(
                session, now=utcnow(), lease="dead", lease_for=timedelta(minutes=5), limit=10
            )
        assert held.attempt == 1
        other = db.deliverer()
        assert await other.deliver_due() == 0  # leased: nobody else takes it
        async with write_transaction(db) as session:  # ... and its lease has run out
            await session.execute(
                sa.update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(locked_until=utcnow() - timedelta(seconds=1))
            )
        assert await other.deliver_due() == 1
        [got] = receiver.wait_for(1)
    assert got.headers[core.DELIVERY_HEADER] == str(delivery_id)
    found = await db.delivery(delivery_id)
    assert found.delivery.status == core.DELIVERED
    assert [a.attempt for a in found.attempts] == [2]  # the dead one's attempt 1 never reported


async def test_a_failed_delivery_sent_again_goes_on_counting_its_attempts(db: Database) -> None:
    with receiving(statuses=[500]) as receiver:
        [delivery_id] = await db.enqueue(receiver.url, attempt_limit=1)
        deliverer = db.deliverer()
        await deliverer.deliver_due()
        assert (await db.delivery(delivery_id)).delivery.status == core.FAILED
        async with write_transaction(db) as session:
            again = await webhooks.resend(
                session,
                tenant_id=db.tenant_id,
                delivery_id=delivery_id,
                now=utcnow(),
                more_attempts=3,
            )
        assert again.delivery.status == core.PENDING
        with pytest.raises(Conflict):  # pending already: it goes when due
            async with write_transaction(db) as session:
                await webhooks.resend(
                    session,
                    tenant_id=db.tenant_id,
                    delivery_id=delivery_id,
                    now=utcnow(),
                    more_attempts=3,
                )
        assert await deliverer.deliver_due() == 1
        got = receiver.wait_for(2)
    assert [r.headers[core.DELIVERY_HEADER] for r in got] == [str(delivery_id)] * 2
    assert got[0].body == got[1].body
    found = await db.delivery(delivery_id)
    assert found.delivery.status == core.DELIVERED
    assert [(a.attempt, a.status_code) for a in found.attempts] == [(1, 500), (2, 204)]
