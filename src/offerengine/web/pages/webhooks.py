"""The tenant's outgoing webhooks: recent deliveries with their state and attempts, and the
button that sends a failed one again."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from offerengine.deps import context_of
from offerengine.web.pages.layout import render
from offerengine.web.session import PageTenant, Visitor
from offerengine.webhooks import service as webhooks
from offerengine.webhooks.schemas import DeliveryRead

router = APIRouter(include_in_schema=False)


@router.get("/admin/webhooks")
async def webhooks_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    show: Annotated[Literal["all", "pending", "delivered", "failed"], Query()] = "all",
) -> Response:
    """Recent webhook deliveries, newest first, each with the log of its attempts."""
    found = await webhooks.read_deliveries(
        context_of(request),
        tenant_id=tenant.id,
        status=None if show == "all" else show,
        limit=100,
    )
    return await render(
        request,
        "webhooks.html",
        visitor,
        tenant=tenant,
        deliveries=[DeliveryRead.of(d) for d in found],
        show=show,
    )
