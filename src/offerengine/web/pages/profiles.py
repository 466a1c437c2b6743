"""A profile as the engine knows it: attributes, consent, aggregates, segments, and its features
from behaviour as decisions read them now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from offerengine.clock import utcnow
from offerengine.deps import context_of
from offerengine.errors import NotFound
from offerengine.profiles import features
from offerengine.profiles import service as profiles
from offerengine.web.pages.layout import render
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)
ROWS = (
    ("purchases", "Purchases"),
    ("revenue", "Revenue"),
    ("views", "Views"),
    ("clicks", "Clicks"),
    ("items_added", "Items added to a cart"),
    ("sessions", "Sessions"),
    ("abandoned_carts", "Abandoned carts"),
)


@router.get("/admin/profiles")
async def profile_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    id: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Look a profile up by id: what is kept of it and its features now."""
    ctx = context_of(request)
    found = missing = None
    wanted = id.strip()
    if wanted:
        snapshot = await ctx.snapshots.get(tenant.id)
        try:
            found = await profiles.get_profile(ctx, snapshot, wanted, utcnow())
        except NotFound:
            missing = wanted
    return await render(
        request,
        "profile.html",
        visitor,
        tenant=tenant,
        wanted=wanted,
        profile=found.model_dump(mode="json") if found is not None else None,
        missing=missing,
        rows=ROWS,
        windows=features.WINDOWS,
    )
