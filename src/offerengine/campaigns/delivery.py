"""Delivering a campaign's selections (issue 33, item 6): the customers it granted, with their
personal codes and promotion, per channel (email, SMS, push), and the log of each batch.

- **Files** (:func:`export`): CSV or Parquet, streamed a batch at a time by the transfer
  package's :class:`~offerengine.transfer.core.Writer` (memory holds one batch); each batch is
  logged as EXPORTED when the export starts.
- **Webhooks** (:func:`send`): one signed POST per batch through the project's webhook outbox
  (:func:`offerengine.webhooks.service.enqueue`: signed with the tenant's secret, retried,
  delivered at least once, only to destinations the deployment allows), event
  ``campaign.selections``, in the caller's transaction; each batch's log row points at its
  outbox row, whose status and attempts the log reads (:func:`log`). A delivery sends only the
  selections not sent on its channel yet (each one sent is kept, ``CampaignDelivered``, taken by
  an insert that skips those already there, so deliveries at the same time never send one
  twice); the selections of a batch whose webhook failed for good are sent by the next one.

Selections are the campaign's grants still ISSUED (a code that can be used), oldest first; the
held-out customers are never among them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.campaigns import core, grants
from offerengine.campaigns.models import (
    Campaign,
    CampaignDelivered,
    CampaignDelivery,
    CampaignGrant,
)
from offerengine.db import upsert
from offerengine.db.session import Sessions
from offerengine.transfer import core as files
from offerengine.webhooks import service as webhooks
from offerengine.webhooks.models import WebhookDelivery

EVENT = "campaign.selections"
LAYOUT = files.Layout(
    "selections",
    tuple(
        files.Column(name)
        for name in (
            "customer_id",
            "code",
            "promotion",
            "discount",
            "currency",
            "expires_at",
            "channel",
            "message",
        )
    ),
    ("customer_id", "code"),
)


def _selection(campaign: Campaign, grant: CampaignGrant, channel: str) -> dict[str, Any]:
    amount = str(money.from_minor(grant.discount_minor, grant.currency))
    expires = grant.expires_at.isoformat()
    return {
        "customer_id": grant.customer_id,
        "code": grant.code,
        "promotion": grant.promotion,
        "discount": amount,
        "currency": grant.currency,
        "expires_at": expires,
        "channel": channel,
        "message": core.message(
            channel, campaign.name, grant.code, f"{amount} {grant.currency}", expires
        ),
    }


def _issued(campaign: Campaign) -> sa.Select[CampaignGrant]:
    return (
        sa.select(CampaignGrant)
        .where(
            CampaignGrant.tenant_id == campaign.tenant_id,
            CampaignGrant.campaign_id == campaign.id,
            CampaignGrant.status == grants.ISSUED,
        )
        .order_by(CampaignGrant.granted_at, CampaignGrant.code)
    )


async def count(session: AsyncSession, campaign: Campaign) -> int:
    found = await session.scalar(
        sa.select(sa.func.count()).select_from(_issued(campaign).subquery())
    )
    return int(found or 0)


def _log_row(
    campaign: Campaign, channel: str, method: str, batch: int, n: int, status: str, now: datetime
) -> CampaignDelivery:
    return CampaignDelivery(
        id=uuid.uuid4(),
        tenant_id=campaign.tenant_id,
        campaign_id=campaign.id,
        channel=channel,
        method=method,
        batch=batch,
        count=n,
        status=status,
        attempts=1 if status == "EXPORTED" else 0,
        created_at=now,
    )


async def log_export(
    session: AsyncSession,
    campaign: Campaign,
    channel: str,
    fmt: str,
    batch_size: int,
    now: datetime,
) -> int:
    """Log the batches a file export of the selections is made of; how many selections."""
    n = await count(session, campaign)
    for i, start in enumerate(range(0, n, batch_size)):
        size = min(batch_size, n - start)
        session.add(_log_row(campaign, channel, fmt, i + 1, size, "EXPORTED", now))
    await session.flush()
    return n


async def export(
    sessions: Sessions, campaign: Campaign, channel: str, fmt: files.Format, batch_size: int
) -> AsyncIterator[bytes]:
    """The selections as a ``fmt`` file, a batch at a time (a session per batch, keyset-paged
    on the grant's time and code)."""
    writer = files.Writer(fmt, LAYOUT)
    yield writer.start()
    after: tuple[datetime, str] | None = None
    while True:
        stmt = _issued(campaign)
        if after is not None:
            stmt = stmt.where(sa.tuple_(CampaignGrant.granted_at, CampaignGrant.code) > after)
        async with sessions.session_factory() as session:
            page = (await session.scalars(stmt.limit(batch_size))).all()
            rows = [_selection(campaign, g, channel) for g in page]
        if not page:
            break
        after = (page[-1].granted_at, page[-1].code)
        yield writer.chunk(rows)
        if len(page) < batch_size:
            break
    yield writer.end()


async def _release_failed(session: AsyncSession, campaign: Campaign, channel: str) -> None:
    """Give back the selections of the channel's webhook batches that failed for good: the next
    delivery sends them again."""
    failed = (
        sa.select(CampaignDelivery.id)
        .join(WebhookDelivery, WebhookDelivery.id == CampaignDelivery.outbox_id)
        .where(
            CampaignDelivery.tenant_id == campaign.tenant_id,
            CampaignDelivery.campaign_id == campaign.id,
            CampaignDelivery.channel == channel,
            WebhookDelivery.status == "failed",
        )
    )
    await session.execute(
        sa.delete(CampaignDelivered)
        .where(
            CampaignDelivered.tenant_id == campaign.tenant_id,
            CampaignDelivered.campaign_id == campaign.id,
            CampaignDelivered.channel == channel,
            CampaignDelivered.delivery_id.in_(failed.scalar_subquery()),
        )
        .execution_options(synchronize_session=False)
    )


async def _claim(
    session: AsyncSession,
    campaign: Campaign,
    channel: str,
    delivery_id: uuid.UUID,
    batch: Sequence[CampaignGrant],
) -> set[uuid.UUID]:
    """Mark the batch's selections sent on the channel by this delivery; those this call marked
    (one sent by a delivery at the same time is skipped)."""
    rows = [
        {
            "tenant_id": campaign.tenant_id,
            "campaign_id": campaign.id,
            "channel": channel,
            "grant_id": g.id,
            "delivery_id": delivery_id,
        }
        for g in batch
    ]
    taken = await session.execute(
        upsert.insert(session, CampaignDelivered)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["tenant_id", "campaign_id", "channel", "grant_id"])
        .returning(CampaignDelivered.grant_id)
    )
    return {row[0] for row in taken}


async def send(
    session: AsyncSession,
    campaign: Campaign,
    *,
    channel: str,
    url: str,
    batch_size: int,
    attempt_limit: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """One signed webhook per batch of the selections not sent on ``channel`` yet (a batch whose
    webhook failed for good is sent again), queued in the outbox with its log row, in the
    caller's transaction (sent once it commits); the log rows made (none when everything was
    sent already)."""
    await _release_failed(session, campaign, channel)
    sent = sa.select(CampaignDelivered.grant_id).where(
        CampaignDelivered.tenant_id == campaign.tenant_id,
        CampaignDelivered.campaign_id == campaign.id,
        CampaignDelivered.channel == channel,
    )
    chosen = (await session.scalars(_issued(campaign).where(CampaignGrant.id.not_in(sent)))).all()
    batches = [chosen[i : i + batch_size] for i in range(0, len(chosen), batch_size)]
    made = []
    for i, batch in enumerate(batches):
        delivery_id = uuid.uuid4()
        taken = await _claim(session, campaign, channel, delivery_id, batch)
        batch = [g for g in batch if g.id in taken]
        if not batch:
            continue
        outbox = webhooks.enqueue(
            session,
            tenant_id=campaign.tenant_id,
            event_type=EVENT,
            url=url,
            payload={
                "campaign": campaign.code,
                "channel": channel,
                "batch": i + 1,
                "batches": len(batches),
                "selections": [_selection(campaign, g, channel) for g in batch],
                "occurred_at": now.isoformat(),
            },
            now=now,
            attempt_limit=attempt_limit,
        )
        await session.flush()
        row = _log_row(campaign, channel, "webhook", i + 1, len(batch), "QUEUED", now)
        row.id = delivery_id
        row.outbox_id = outbox.id
        session.add(row)
        made.append(row)
    await session.flush()
    return [_read(r, None) for r in made]


_STATUS = {"pending": "QUEUED", "delivered": "DELIVERED", "failed": "FAILED"}


def _read(row: CampaignDelivery, outbox: WebhookDelivery | None) -> dict[str, Any]:
    status, attempts = row.status, row.attempts
    if outbox is not None:
        status, attempts = _STATUS.get(outbox.status, outbox.status.upper()), outbox.attempts
    return {
        "id": row.id,
        "channel": row.channel,
        "method": row.method,
        "batch": row.batch,
        "count": row.count,
        "status": status,
        "attempts": attempts,
        "created_at": row.created_at,
        "webhook_delivery_id": row.outbox_id,
        "last_error": None if outbox is None else outbox.last_error,
    }


async def log(session: AsyncSession, campaign: Campaign, limit: int) -> list[dict[str, Any]]:
    """The campaign's delivery log, newest first: a webhook batch's status and attempts are its
    outbox row's (QUEUED while pending, DELIVERED, FAILED)."""
    rows = await session.execute(
        sa.select(CampaignDelivery, WebhookDelivery)
        .outerjoin(WebhookDelivery, WebhookDelivery.id == CampaignDelivery.outbox_id)
        .where(
            CampaignDelivery.tenant_id == campaign.tenant_id,
            CampaignDelivery.campaign_id == campaign.id,
        )
        .order_by(CampaignDelivery.created_at.desc(), CampaignDelivery.batch)
        .limit(limit)
    )
    return [_read(row, outbox) for row, outbox in rows]
