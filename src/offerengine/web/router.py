"""The admin UI at ``/admin``: server-rendered pages (Jinja2) over the services, and forms that
write through the JSON API with the session cookie and its CSRF token (``static/admin.js``), so
that the UI shows exactly the API's validation errors, next to the fields they name.

The pages are one module per menu under :mod:`offerengine.web.pages`; :func:`install` puts them,
the static files and the redirects to log in on the admin app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from offerengine.forwarded import TrustedProxies
from offerengine.settings import Settings
from offerengine.web import apidocs
from offerengine.web.headers import SecurityHeaders
from offerengine.web.pages import (
    airline,
    campaigns,
    catalog,
    commerce_tables,
    dashboard,
    decisioning_editor,
    documents,
    experiments_editor,
    flags_editor,
    history,
    login,
    loyalty,
    playgrounds,
    pricing,
    profiles,
    quote_builder,
    records,
    resources,
    template_sets,
    transfer,
    webhooks,
)
from offerengine.web.pages.layout import WEB
from offerengine.web.session import LoginRequired, TenantRequired, to_login

PAGES = (
    login,
    dashboard,
    catalog,
    pricing,
    airline,
    documents,
    playgrounds,
    quote_builder,
    commerce_tables,
    profiles,
    campaigns,
    loyalty,
    flags_editor,
    experiments_editor,
    decisioning_editor,
    history,
    records,
    webhooks,
    transfer,
    template_sets,
    resources,
)


def routes() -> list[BaseRoute]:
    """Every page's route; the generic ``/admin/{slug}`` pages match anything, so they go after
    every named page."""
    found = [route for module in PAGES for route in module.router.routes]
    return sorted(found, key=lambda r: "{slug" in getattr(r, "path", ""))


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the admin UI: its pages, its static files, the redirects to log in, and the
    security headers of the admin app's responses; and the API reference (``/docs``), served
    from this app's own files."""
    apidocs.install(app)
    app.router.routes.extend(routes())
    app.add_middleware(SecurityHeaders, proxies=TrustedProxies.parse(settings.trusted_proxies))
    app.mount("/admin/static", StaticFiles(directory=WEB / "static"), name="admin-static")

    async def on_login_required(request: Request, exc: Exception) -> Response:
        return to_login(exc.next_url if isinstance(exc, LoginRequired) else "/admin")

    async def on_tenant_required(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/admin/tenants", status_code=303)

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(TenantRequired, on_tenant_required)
