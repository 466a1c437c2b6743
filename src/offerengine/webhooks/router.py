"""Outgoing webhooks (admin): the deliveries and their attempts, sending one again, and the
tenant's signing secret (owner keys only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import BackgroundTasks, Query

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor, KeyManager
from offerengine.clock import utcnow
from offerengine.deps import Ctx, DbSession
from offerengine.http.routing import router
from offerengine.tenants.deps import PathTenant
from offerengine.webhooks import service
from offerengine.webhooks.schemas import (
    DeliveryList,
    DeliveryRead,
    DeliveryStatus,
    WebhookSecretRead,
)

api = router(tags=["webhooks"])
BASE = "/v1/admin/tenants/{tenant}/webhooks"


@api.get(f"{BASE}/deliveries", operation_id="listWebhookDeliveries", response_model=DeliveryList)
async def list_deliveries(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    status: Annotated[DeliveryStatus | None, Query(description="Only those in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryList:
    """The tenant's webhook deliveries, newest first, each with the log of its attempts (status
    code or error, duration, address)."""
    found = await service.list_deliveries(session, tenant_id=tenant.id, status=status, limit=limit)
    return DeliveryList(items=[DeliveryRead.of(d) for d in found])


@api.post(
    f"{BASE}/deliveries/{{delivery_id}}/resend",
    operation_id="resendWebhookDelivery",
    response_model=DeliveryRead,
)
async def resend_delivery(
    tenant: PathTenant,
    delivery_id: uuid.UUID,
    _: ConfigWriter,
    ctx: Ctx,
    session: DbSession,
    background: BackgroundTasks,
) -> DeliveryRead:
    """Send a failed (or delivered) delivery again now: same id, body and URL, with a new round
    of attempts. 409 while it is still pending."""
    found = await service.resend(
        session,
        tenant_id=tenant.id,
        delivery_id=delivery_id,
        now=utcnow(),
        more_attempts=ctx.settings.webhook_max_attempts,
    )
    background.add_task(ctx.webhooks.wake)  # after the commit, which precedes the response
    return DeliveryRead.of(found)


@api.get(f"{BASE}/secret", operation_id="getWebhookSecret", response_model=WebhookSecretRead)
async def get_secret(tenant: PathTenant, _: KeyManager, ctx: Ctx) -> WebhookSecretRead:
    """The secret every delivery is signed with (made on first read or delivery). Owner keys
    only; it is never logged."""
    found = await service.read_secret(ctx, tenant_id=tenant.id, now=utcnow())
    return WebhookSecretRead.of(found)


@api.post(
    f"{BASE}/secret/rotate", operation_id="rotateWebhookSecret", response_model=WebhookSecretRead
)
async def rotate_secret(
    tenant: PathTenant, _: KeyManager, actor: CurrentActor, session: DbSession
) -> WebhookSecretRead:
    """A new signing secret, returned here (and readable by owners later). The previous one
    still signs, as a second `v1`, for 24 hours, so that receivers can switch over."""
    found = await service.rotate_secret(session, tenant_id=tenant.id, actor=actor, now=utcnow())
    return WebhookSecretRead.of(found)
