"""The deliverer's work on the outbox: claim due deliveries, record what an attempt came to, and
prune what settled long ago.

A claim is one conditional ``UPDATE … RETURNING``: rows pending, due, and not leased (or whose
lease ran out) get this round's lease token, a ``locked_until`` and their attempt counted. Two
deliverers cannot both take a row: on PostgreSQL the candidate rows are locked ``FOR UPDATE SKIP
LOCKED`` (a deliverer passes over what another is claiming) and the update checks the lease
again on the row it writes; on SQLite the claim runs under the database's write lock, taken up
front. A result is written only under the lease that sent it; a deliverer whose lease ran out
(and whose row another deliverer took) still logs its attempt, but leaves the row to the other.

Pruning deletes settled deliveries (and their attempts) past their retention, a bounded batch per
short transaction, so that neither database holds a lock for long nor the tables grow forever.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.webhooks import core
from offerengine.webhooks import service as webhooks
from offerengine.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSecret


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this deliverer holds the lease of, for one attempt."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    event_type: str
    url: str
    body: str
    attempt: int  # this attempt's number, from 1
    attempt_limit: int
    lease: str


def _unleased(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        WebhookDelivery.status == core.PENDING,
        WebhookDelivery.next_attempt_at <= now,
        sa.or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now),
    )


async def any_due(session: AsyncSession, *, now: datetime) -> bool:
    """Whether some delivery is due and not leased: a read, so that an idle deliverer never
    takes SQLite's write lock to claim nothing."""
    found = await session.scalar(sa.select(WebhookDelivery.id).where(_unleased(now)).limit(1))
    return found is not None


async def claim(
    session: AsyncSession, *, now: datetime, lease: str, lease_for: timedelta, limit: int
) -> list[Claimed]:
    """Take the lease of up to ``limit`` due deliveries, oldest due first, counting the attempt
    each is about to get."""
    due = (
        sa.select(WebhookDelivery.id)
        .where(_unleased(now))
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    taken = (
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due.scalar_subquery()), _unleased(now))
        .values(
            lease=lease,
            locked_until=now + lease_for,
            attempts=WebhookDelivery.attempts + 1,
            updated_at=now,
        )
        .returning(
            WebhookDelivery.id,
            WebhookDelivery.tenant_id,
            WebhookDelivery.event_type,
            WebhookDelivery.url,
            WebhookDelivery.body,
            WebhookDelivery.attempts,
            WebhookDelivery.attempt_limit,
        )
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(taken)).all()
    return [Claimed(*row, lease=lease) for row in rows]


async def secrets_of(
    session: AsyncSession, tenant_ids: Iterable[uuid.UUID], now: datetime
) -> dict[uuid.UUID, list[str]]:
    """The secrets each tenant's deliveries are signed with now (a tenant's made if missing)."""
    wanted = set(tenant_ids)
    if not wanted:
        return {}
    found = {
        s.tenant_id: s
        for s in await session.scalars(
            sa.select(WebhookSecret).where(WebhookSecret.tenant_id.in_(wanted))
        )
    }
    for tenant_id in wanted - found.keys():
        found[tenant_id] = await webhooks.ensure_secret(session, tenant_id, now)
    return {tenant_id: webhooks.signing_secrets(s, now) for tenant_id, s in found.items()}


async def record(
    session: AsyncSession,
    claimed: Claimed,
    outcome: core.Outcome,
    then: core.Next,
    *,
    started_at: datetime,
    now: datetime,
) -> bool:
    """Log the attempt, and move the delivery on as ``then`` says, if this lease still holds it;
    whether it did."""
    session.add(
        WebhookAttempt(
            delivery_id=claimed.id,
            attempt=claimed.attempt,
            started_at=started_at,
            duration_ms=outcome.duration_ms,
            address=outcome.address,
            status_code=outcome.status_code,
            error=outcome.error[:500] if outcome.error else None,
            delivered=outcome.delivered,
        )
    )
    retry_at = now + timedelta(seconds=then.retry_in) if then.retry_in is not None else now
    moved = await session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id == claimed.id, WebhookDelivery.lease == claimed.lease)
        .values(
            status=then.status,
            next_attempt_at=retry_at,
            lease=None,
            locked_until=None,
            last_status_code=outcome.status_code,
            last_error=outcome.error[:500] if outcome.error else None,
            delivered_at=now if then.status == core.DELIVERED else None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(moved, "rowcount", 0))


def _settled_before(status: str, before: datetime) -> sa.ColumnElement[bool]:
    """Deliveries of ``status`` (delivered or failed) that settled before ``before``: a settled
    row's ``next_attempt_at`` is when it settled (:func:`record` sets it to the time of the last
    attempt, a re-send to the time it was sent again), so the ``(status, next_attempt_at)``
    index finds them."""
    return sa.and_(WebhookDelivery.status == status, WebhookDelivery.next_attempt_at < before)


async def any_prunable(
    session: AsyncSession, *, delivered_before: datetime, failed_before: datetime
) -> bool:
    """Whether :func:`prune` would delete something: a read, so that a worker with nothing to
    prune never takes SQLite's write lock for it."""
    for status, before in ((core.DELIVERED, delivered_before), (core.FAILED, failed_before)):
        found = await session.scalar(
            sa.select(WebhookDelivery.id).where(_settled_before(status, before)).limit(1)
        )
        if found is not None:
            return True
    return False


async def prune(
    session: AsyncSession, *, delivered_before: datetime, failed_before: datetime, limit: int
) -> int:
    """Delete up to ``limit`` settled deliveries, their attempts with them: delivered ones that
    settled before ``delivered_before``, failed ones before ``failed_before``; how many.

    The delete checks status and time again on each row: a delivery sent again meanwhile is
    pending, and stays. Attempts go by the foreign key's ``ON DELETE CASCADE`` (SQLite's
    connections turn foreign keys on)."""
    chosen: list[uuid.UUID] = []
    for status, before in ((core.DELIVERED, delivered_before), (core.FAILED, failed_before)):
        chosen += await session.scalars(
            sa.select(WebhookDelivery.id)
            .where(_settled_before(status, before))
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit - len(chosen))
        )
        if len(chosen) >= limit:
            break
    if not chosen:
        return 0
    gone = await session.scalars(
        sa.delete(WebhookDelivery)
        .where(
            WebhookDelivery.id.in_(chosen),
            sa.or_(
                _settled_before(core.DELIVERED, delivered_before),
                _settled_before(core.FAILED, failed_before),
            ),
        )
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )
    return len(list(gone))
