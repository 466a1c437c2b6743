"""The webhook outbox does not grow forever: settled deliveries past their retention (14 days
delivered, 30 days failed by default) go with their attempts, in bounded batches, on SQLite and
PostgreSQL; pending deliveries and recent ones stay, whatever their age."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from offerengine.clock import utcnow
from offerengine.db.session import write_transaction
from offerengine.settings import Settings
from offerengine.webhooks import core
from offerengine.webhooks.delivery import Retention
from offerengine.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.integration import test_webhooks
from tests.integration.test_webhooks import Database, _until
from tests.receiver import receiving

db = test_webhooks.db  # the fixture: a migrated database with one tenant, on both backends

DAY = 86_400.0
RETENTION = Retention(delivered_seconds=14 * DAY, failed_seconds=30 * DAY)


async def _settle(db: Database, ids: list[uuid.UUID], status: str, days_ago: float) -> None:
    """Make ``ids`` ``status``, settled ``days_ago`` days ago (a pending one: due then)."""
    async with write_transaction(db) as session:
        await session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(status=status, next_attempt_at=utcnow() - timedelta(days=days_ago))
        )


async def _left(db: Database) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """The deliveries in the outbox, and the deliveries that attempts are logged for."""
    async with db.main() as session:
        deliveries = set(await session.scalars(sa.select(WebhookDelivery.id)))
        attempted = set(await session.scalars(sa.select(WebhookAttempt.delivery_id)))
    return deliveries, attempted


async def _outbox(db: Database) -> dict[str, list[uuid.UUID]]:
    """Eleven delivered deliveries (each with its attempt logged), then aged: five delivered 15
    days ago, one 13 days ago, one failed 20 days ago, two 31 days ago, one pending (due) since
    40 days ago, and one delivered just now."""
    with receiving() as receiver:
        ids = await db.enqueue(receiver.url, count=11)
        deliverer = db.deliverer()
        while await deliverer.deliver_due():
            pass
        receiver.wait_for(11)
    found = {
        "old delivered": ids[:5],
        "young delivered": ids[5:6],
        "young failed": ids[6:7],
        "old failed": ids[7:9],
        "old pending": ids[9:10],
        "new": ids[10:],
    }
    await _settle(db, found["old delivered"], core.DELIVERED, 15)
    await _settle(db, found["young delivered"], core.DELIVERED, 13)
    await _settle(db, found["young failed"], core.FAILED, 20)
    await _settle(db, found["old failed"], core.FAILED, 31)
    await _settle(db, found["old pending"], core.PENDING, 40)
    deliveries, attempted = await _left(db)
    assert deliveries == attempted == set(ids)
    return found


def _kept(found: dict[str, list[uuid.UUID]]) -> set[uuid.UUID]:
    return {
        i for part in ("young delivered", "young failed", "old pending", "new") for i in found[part]
    }


async def test_settled_deliveries_past_their_retention_go_with_their_attempts(
    db: Database,
) -> None:
    found = await _outbox(db)
    deliverer = db.deliverer(retention=RETENTION)
    assert await deliverer.prune() == (7, False)
    deliveries, attempted = await _left(db)
    assert deliveries == attempted == _kept(found)
    assert await deliverer.prune() == (0, False)  # nothing more to do


async def test_pruning_works_in_bounded_batches_and_says_when_some_are_left(
    db: Database,
) -> None:
    found = await _outbox(db)
    small = Retention(14 * DAY, 30 * DAY, batch=2, batches_at_a_time=2)
    deliverer = db.deliverer(retention=small)
    assert await deliverer.prune() == (4, True)  # two batches of two, and more to come
    assert await deliverer.prune() == (3, False)
    deliveries, attempted = await _left(db)
    assert deliveries == attempted == _kept(found)


async def test_a_running_deliverer_prunes_by_itself_and_goes_on_delivering(
    db: Database,
) -> None:
    found = await _outbox(db)
    often = Retention(14 * DAY, 30 * DAY, every_seconds=0.2, batch=3, batches_at_a_time=1)
    with receiving() as receiver:
        deliverer = db.deliverer(retention=often)
        deliverer.start()
        # One batch of three per pruning: the backlog goes on over the following rounds.

        async def pruned() -> bool:
            return (await _left(db))[0] <= _kept(found) | set(more)

        more = await db.enqueue(receiver.url, count=2)
        deliverer.wake()
        await _until(pruned, seconds=20)
        got = receiver.wait_for(2)
    assert sorted(r.headers[core.DELIVERY_HEADER] for r in got) == sorted(map(str, more))
    deliveries, _ = await _left(db)
    assert deliveries == _kept(found) | set(more)


def test_the_retention_settings_default_to_14_and_30_days() -> None:
    settings = Settings(database_url="sqlite:///unused.db")
    assert settings.webhook_keep_delivered_days == 14
    assert settings.webhook_keep_failed_days == 30
