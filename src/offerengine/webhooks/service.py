"""Outgoing webhooks, the use cases: a notice into the outbox (in the caller's transaction, so it
is stored with what caused it or not at all), the tenant's signing secret, and the deliveries an
admin lists and sends again. Nothing here sends: each worker's deliverer does
(:mod:`offerengine.webhooks.delivery`)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.db import upsert
from offerengine.db.session import Sessions, write_transaction
from offerengine.errors import Conflict, NotFound
from offerengine.versioning import service as versioning
from offerengine.webhooks.core import PENDING
from offerengine.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSecret

# How long the previous secret still signs after a rotation, so that receivers can switch over.
ROTATION_GRACE = timedelta(hours=24)


def enqueue(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    event_type: str,
    url: str,
    payload: Mapping[str, Any],
    now: datetime,
    attempt_limit: int,
) -> WebhookDelivery:
    """Add a delivery of ``payload`` (as JSON) to ``url`` to the outbox, due now, in the caller's
    transaction; it is sent once that commits."""
    delivery = WebhookDelivery(
        tenant_id=tenant_id,
        event_type=event_type,
        url=url,
        body=json.dumps(dict(payload), separators=(",", ":"), default=str),
        status=PENDING,
        attempts=0,
        attempt_limit=attempt_limit,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(delivery)
    return delivery


# --- the tenant's signing secret -------------------------------------------------------------


def new_secret() -> str:
    """A signing secret: 256 random bits, with a prefix that says what it is."""
    return f"whsec_{secrets.token_urlsafe(32)}"


async def ensure_secret(
    session: AsyncSession, tenant_id: uuid.UUID, now: datetime
) -> WebhookSecret:
    """The tenant's secret, made now if it has none (two workers making it at once keep one)."""
    await session.execute(
        upsert.insert(session, WebhookSecret)
        .values(tenant_id=tenant_id, secret=new_secret(), created_at=now)
        .on_conflict_do_nothing(index_elements=["tenant_id"])
    )
    found = await session.get(WebhookSecret, tenant_id, populate_existing=True)
    assert found is not None  # just inserted, or there already
    return found


def signing_secrets(secret: WebhookSecret, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one while its
    grace lasts."""
    found = [secret.secret]
    if secret.previous_secret and secret.previous_until and secret.previous_until > now:
        found.append(secret.previous_secret)
    return found


async def read_secret(sessions: Sessions, *, tenant_id: uuid.UUID, now: datetime) -> WebhookSecret:
    """The tenant's secret, in a transaction of its own (made on first read)."""
    async with sessions.session_factory() as session:
        found = await session.get(WebhookSecret, tenant_id)
    if found is not None:
        return found
    async with write_transaction(sessions) as session:
        return await ensure_secret(session, tenant_id, now)


async def rotate_secret(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: Actor, now: datetime
) -> WebhookSecret:
    """A new secret for the tenant; the previous one still signs for :data:`ROTATION_GRACE`.
    Audited, without either secret."""
    secret = await ensure_secret(session, tenant_id, now)
    secret.previous_secret = secret.secret
    secret.previous_until = now + ROTATION_GRACE
    secret.secret = new_secret()
    secret.created_at = now
    versioning.audit(
        session,
        actor=actor,
        action="webhook_secret.rotate",
        tenant_id=tenant_id,
        object_type="webhook_secret",
        after={"previous_until": secret.previous_until.isoformat()},
    )
    return secret


# --- deliveries, as an admin sees them ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryLog:
    """A delivery and its attempts so far, oldest first."""

    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


async def list_deliveries(
    session: AsyncSession, *, tenant_id: uuid.UUID, status: str | None = None, limit: int = 50
) -> list[DeliveryLog]:
    """The tenant's deliveries, newest first, each with its attempts."""
    query = sa.select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    deliveries = list(await session.scalars(query.limit(limit)))
    return await _with_attempts(session, deliveries)


async def read_deliveries(
    sessions: Sessions, *, tenant_id: uuid.UUID, status: str | None = None, limit: int = 50
) -> list[DeliveryLog]:
    """:func:`list_deliveries`, in a session of its own (the admin UI's webhooks page)."""
    async with sessions.session_factory() as session:
        return await list_deliveries(session, tenant_id=tenant_id, status=status, limit=limit)


async def _with_attempts(
    session: AsyncSession, deliveries: list[WebhookDelivery]
) -> list[DeliveryLog]:
    by_delivery: dict[uuid.UUID, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
    if deliveries:
        attempts = await session.scalars(
            sa.select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(by_delivery)))
            .order_by(WebhookAttempt.attempt)
        )
        for attempt in attempts:
            by_delivery[attempt.delivery_id].append(attempt)
    return [DeliveryLog(d, by_delivery[d.id]) for d in deliveries]


async def resend(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    delivery_id: uuid.UUID,
    now: datetime,
    more_attempts: int,
) -> DeliveryLog:
    """Send a failed (or delivered) delivery again, now, to the URL it was made for, with
    ``more_attempts`` attempts; the same id, body and log. 409 while it is still pending."""
    delivery = await session.scalar(
        sa.select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.tenant_id == tenant_id
        )
    )
    if delivery is None:
        raise NotFound(f"No webhook delivery {delivery_id}.")
    if delivery.status == PENDING:
        raise Conflict(f"Webhook delivery {delivery_id} is still pending: it is sent when due.")
    delivery.status = PENDING
    delivery.next_attempt_at = now
    delivery.attempt_limit = delivery.attempts + more_attempts
    delivery.locked_until = None
    delivery.lease = None
    delivery.updated_at = now
    await session.flush()
    return (await _with_attempts(session, [delivery]))[0]
