"""What the screens that edit one API document of a tenant share (the feature flag and the
experiment editors): the document the form starts from, the API path it saves to, and the
page of a stored one, fetched through the API, or a 404 page naming what is missing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from offerengine.auth.users import Visitor
from offerengine.tenants.models import Tenant
from offerengine.web.pages.layout import not_found
from offerengine.web.resources import api_get

# A screen's editor: the page for a stored item (its API document) or a new one (None).
Editor = Callable[[Request, Visitor, Tenant, dict[str, Any] | None], Awaitable[Response]]


def form_document(
    item: dict[str, Any] | None, fields: Iterable[str], starter: dict[str, Any]
) -> dict[str, Any]:
    """The document a form starts from: the stored item's ``fields`` (those its API input
    takes), or ``starter`` for a new one."""
    return {name: item.get(name) for name in fields} if item else starter


def save_path(item: dict[str, Any] | None, tenant: Tenant, collection: str) -> str:
    """Where a form saves: the stored item at ``/v1/admin/<collection>/<id>``, or a new one
    into the tenant's ``/v1/admin/tenants/<code>/<collection>``."""
    if item:
        return f"/v1/admin/{collection}/{item['id']}"
    return f"/v1/admin/tenants/{tenant.code}/{collection}"


async def stored_editor(
    request: Request,
    visitor: Visitor,
    tenant: Tenant,
    path: str,
    missing: str,
    editor: Editor,
) -> Response:
    """``editor`` on the item the API reads at ``path``; the 404 page with the API's reason
    (``missing`` when it gives none) when it does not answer with one."""
    found = await api_get(request, path)
    if not found.ok:
        return await not_found(request, visitor, tenant, found.detail or missing)
    return await editor(request, visitor, tenant, found.data)
