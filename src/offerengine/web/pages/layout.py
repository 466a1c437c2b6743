"""What every admin page shares: the templates, the menu, the frame a page is rendered in (the
visitor, her rights, the tenants a platform user switches between), pager links, the page of a
missing object, the check of a plain form's CSRF token and the safe way back after a form."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
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
from offerengine.web import dashboards
from offerengine.web.resources import RESOURCES, human_label

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
            ("Import & export", "/admin/imports"),
            ("Templates", "/admin/templates"),
        ],
    ),
    (
        "Airline",
        [
            ("Flights", "/admin/flights"),
            ("Booking simulator", "/admin/revenue/simulator"),
            ("Inventory rules", "/admin/inventory-rules"),
            ("Offer rules", "/admin/offer-rules"),
            ("Fare settings", "/admin/fare-settings"),
            ("Connection rules", "/admin/connection-rules"),
            ("Shop playground", "/admin/shop"),
            ("Loyalty programmes", "/admin/loyalty-programmes"),
            ("Loyalty members", "/admin/loyalty"),
        ],
    ),
    (
        "Decisioning",
        [
            ("Placements", "/admin/placements"),
            ("Offers", "/admin/decisioning/offers"),
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
            ("Commission rates", "/admin/marketplace/commission-rates"),
            ("Fee and tax rules", "/admin/marketplace/fee-rules"),
            ("Coupons", "/admin/marketplace/coupons"),
            ("Quote builder", "/admin/quote"),
        ],
    ),
    (
        "Flags & experiments",
        [("Feature flags", "/admin/feature-flags"), ("Experiments", "/admin/ab-tests")],
    ),
    (
        "Learning",
        [
            ("Bandit models", "/admin/models"),
            ("Profiles", "/admin/profiles"),
            ("Segments", "/admin/segments"),
            ("Promotions", "/admin/promotions"),
            ("Promotion usage", "/admin/promotion-usage"),
            ("Campaigns", "/admin/campaigns"),
            ("Campaign results", "/admin/campaign-results"),
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


@cache
def _history_pages() -> dict[str, str]:
    """The page that lists each versioned kind: a history page belongs to its kind's menu."""
    from offerengine.web.pages.documents import DOCUMENTS  # it imports this module

    pages = {"product": "/admin/products", "pricing_rule": "/admin/pricing-rules"}
    pages.update({r.history: f"/admin/{slug}" for slug, r in RESOURCES.items()})
    pages.update({d.history: f"/admin/{slug}" for slug, d in DOCUMENTS.items()})
    return pages


# Kinds with screens of their own: their generic pages (kept as fallbacks, e.g. "Edit as
# JSON") and their histories belong to the menu entry of the own screen.
OWN_SCREENS = {
    "/admin/flags": "/admin/feature-flags",
    "/admin/experiments": "/admin/ab-tests",
    "/admin/commission-rates": "/admin/marketplace/commission-rates",
    "/admin/fee-rules": "/admin/marketplace/fee-rules",
    "/admin/coupons": "/admin/marketplace/coupons",
    "/admin/decision-offers": "/admin/decisioning/offers",
}


def current_menu(path: str) -> tuple[str | None, str | None]:
    """The menu group and the page of ``path``: the page whose address is the path or leads
    it (``/admin/products/<id>`` is Products), an object's history its kind's page; (None,
    None) where no menu page leads (the tenant picker)."""
    history = re.fullmatch(r"/admin/history/([a-z_]+)/.*", path)
    if history:
        path = _history_pages().get(history.group(1), path)
    for generic, own in OWN_SCREENS.items():
        if path == generic or path.startswith(generic + "/"):
            path = own + path[len(generic) :]
    for group, links in NAV:
        for _, href in links:
            if path == href or (href != "/admin" and path.startswith(href + "/")):
                return group, href
    return None, None


def zone_of(tenant: Any) -> ZoneInfo:
    """The tenant's time zone (UTC for none, or one this machine does not know)."""
    try:
        return ZoneInfo(getattr(tenant, "timezone", None) or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def show_time(value: Any, zone: ZoneInfo) -> str:
    """A time as people read it: to the second, in ``zone``, the zone named (``2026-12-07
    21:45:10 CET``). A time without a zone is UTC (as the database keeps it); a date stays a
    date; anything else is shown as it is."""
    if isinstance(value, str) and _ISO_TIME.fullmatch(value.strip()):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


@jinja2.pass_context
def _when(context: jinja2.runtime.Context, value: Any) -> str:
    return show_time(value, zone_of(context.get("tenant")))


templates.env.filters["when"] = _when
templates.env.filters["human_label"] = human_label
templates.env.filters["charted"] = dashboards.has_data


async def render(
    request: Request, template: str, visitor: users.Visitor | None, **values: Any
) -> Response:
    """A page in the admin frame: the menu, the visitor and what she may do, and for a platform
    user the tenants to switch to."""
    tenant = values.get("tenant")
    group, page = current_menu(request.url.path)
    context: dict[str, Any] = {
        "nav": NAV,
        "nav_group": group,
        "nav_page": page,
        "zone": zone_of(tenant).key,
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
