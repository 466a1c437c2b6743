"""What every admin page shares: the templates, the menu, the frame a page is rendered in (the
visitor, her rights, the tenants a platform user switches between), pager links, the page of a
missing object, the check of a plain form's CSRF token and the safe way back after a form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from offerengine import __version__
from offerengine.auth import users
from offerengine.auth.core import Permission
from offerengine.auth.sessions import CSRF_FIELD, same_token
from offerengine.deps import context_of
from offerengine.errors import Invalid
from offerengine.tenants import service as tenants
from offerengine.tenants.models import Tenant

WEB = Path(__file__).parent.parent  # offerengine/web: its templates and static files
templates = Jinja2Templates(directory=WEB / "templates")
templates.env.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2, default=str)

# The menu: groups, each with its pages; the group of the page shown opens its row of pages.
NAV: list[tuple[str, list[tuple[str, str]]]] = [
    ("Dashboard", [("Dashboard", "/admin")]),
    (
        "Catalog & pricing",
        [
            ("Products", "/admin/products"),
            ("Pricing rules", "/admin/pricing-rules"),
            ("Bundle templates", "/admin/bundles"),
        ],
    ),
    (
        "Airline",
        [
            ("Flights", "/admin/flights"),
            ("Inventory rules", "/admin/inventory-rules"),
            ("Offer rules", "/admin/offer-rules"),
            ("Fare settings", "/admin/fare-settings"),
            ("Shop playground", "/admin/shop"),
        ],
    ),
    (
        "Decisioning",
        [
            ("Placements", "/admin/placements"),
            ("Offers", "/admin/decision-offers"),
            ("Fallback offers", "/admin/fallback-offers"),
            ("Collections", "/admin/collections"),
            ("Ranking formulas", "/admin/ranking-formulas"),
            ("Activities", "/admin/activities"),
            ("Decision simulator", "/admin/decide"),
        ],
    ),
    (
        "Marketplace",
        [
            ("Commission rates", "/admin/commission-rates"),
            ("Fee and tax rules", "/admin/fee-rules"),
            ("Coupons", "/admin/coupons"),
            ("Quote playground", "/admin/quote"),
        ],
    ),
    (
        "Flags & experiments",
        [("Feature flags", "/admin/flags"), ("Experiments", "/admin/experiments")],
    ),
    (
        "Learning",
        [
            ("Bandit models", "/admin/models"),
            ("Segments", "/admin/segments"),
            ("Promotions", "/admin/promotions"),
            ("Promotion usage", "/admin/promotion-usage"),
        ],
    ),
    (
        "Audit log",
        [
            ("Audit log", "/admin/audit"),
            ("Dead letters", "/admin/dead-letters"),
            ("Webhooks", "/admin/webhooks"),
        ],
    ),
]
PAGE = 25  # rows per page of every list


async def render(
    request: Request, template: str, visitor: users.Visitor | None, **values: Any
) -> Response:
    """A page in the admin frame: the menu, the visitor and what she may do, and for a platform
    user the tenants to switch to."""
    tenant = values.get("tenant")
    context: dict[str, Any] = {
        "nav": NAV,
        "path": request.url.path,
        "visitor": visitor,
        "version": __version__,
        "csrf": visitor.session.csrf if visitor else "",
        "can_write": bool(visitor and visitor.principal.can(Permission.CONFIG_WRITE)),
        "can_run": bool(visitor and visitor.principal.can(Permission.RUNTIME)),
        "tenant_code": tenant.code if isinstance(tenant, Tenant) else "",
        **values,
    }
    if visitor is not None and visitor.is_platform:
        context["switchable"] = await tenants.all_tenants(context_of(request))
    return templates.TemplateResponse(request, template, context)


def pager(
    filters: dict[str, str], after: tuple[str, object] | None, later: bool
) -> dict[str, str | None]:
    """A list's pager links, keeping its filters: the next page (``after``: the query parameter
    and value that reach it) and, on a later page, the first."""
    return {
        "next_url": f"?{urlencode({**filters, after[0]: after[1]})}" if after else None,
        "first_url": f"?{urlencode(filters)}" if later else None,
    }


def cursor_pager(
    filters: dict[str, str], next_cursor: str | None, cursor: str | None
) -> dict[str, str | None]:
    """The pager links of a list the service pages with cursors."""
    return pager(filters, ("cursor", next_cursor) if next_cursor else None, bool(cursor))


async def not_found(
    request: Request, visitor: users.Visitor, tenant: Tenant, message: str
) -> Response:
    response = await render(request, "not_found.html", visitor, tenant=tenant, message=message)
    response.status_code = 404
    return response


async def checked_form(request: Request, visitor: users.Visitor) -> dict[str, str]:
    """A plain form's fields, once its CSRF token is found to be the session's."""
    form = await request.form(max_files=0, max_fields=10)
    if not same_token(str(form.get(CSRF_FIELD) or ""), visitor.session.csrf):
        raise Invalid.field(("body", CSRF_FIELD), "missing or not this session's token")
    return {k: str(v) for k, v in form.items()}


def safe_next(value: str | None) -> str:
    """Where to go after a form: only back into the admin UI, never an open redirect."""
    if value and value.startswith("/admin") and not value.startswith("//"):
        return value
    return "/admin"
