"""An object's history, each version with its changes and a rollback, and the audit log."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from offerengine.deps import context_of
from offerengine.versioning import core as versioning_core
from offerengine.versioning import history
from offerengine.versioning import service as versioning
from offerengine.versioning.router import VERSIONED_PATHS
from offerengine.web.pages.layout import PAGE, cursor_pager, not_found, render
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)


@router.get("/admin/history/{object_type}/{object_id:uuid}")
async def history_page(
    request: Request, visitor: Visitor, tenant: PageTenant, object_type: str, object_id: uuid.UUID
) -> Response:
    rows = await history.object_versions(
        context_of(request), tenant_id=tenant.id, object_type=object_type, object_id=object_id
    )
    if not rows:
        return await not_found(
            request, visitor, tenant, f"No history of {object_type} {object_id}."
        )
    versions, previous = [], None
    for row in rows:
        changes = versioning_core.diff(previous or {}, row.data) if row.action != "delete" else []
        versions.append({"row": row, "changes": changes})
        previous = row.data
    versions.reverse()  # newest first
    base = VERSIONED_PATHS.get(object_type)
    return await render(
        request,
        "history.html",
        visitor,
        tenant=tenant,
        object_type=object_type,
        object_id=object_id,
        versions=versions,
        current=None if rows[-1].action == "delete" else rows[-1].version,
        rollback_url=f"{base}/{object_id}/rollback" if base else None,
        title=title_of(rows[-1].data),
    )


def title_of(data: dict[str, Any] | None) -> str:
    """What people call an object: its name, code or key (a flight, its number)."""
    if not isinstance(data, dict):
        return ""
    for key in ("rule_name", "name", "bundle_name", "product_code", "key", "code", "email"):
        if data.get(key):
            return str(data[key])
    if data.get("flight_number"):
        return f"{data.get('carrier') or ''}{data['flight_number']}"
    return ""


@router.get("/admin/audit")
async def audit_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    object_type: Annotated[str | None, Query(max_length=50)] = None,
    action: Annotated[str | None, Query(max_length=30)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    query = versioning.AuditQuery(
        tenant_id=tenant.id, object_type=object_type or None, action=action or None
    )
    rows, next_cursor = await history.audit_entries(
        context_of(request), query, limit=PAGE, cursor=cursor or None
    )
    filters = {"object_type": object_type or "", "action": action or ""}
    return await render(
        request,
        "audit.html",
        visitor,
        tenant=tenant,
        entries=[
            {
                "row": row,
                "kind": (row.object_type or "").replace("_", " "),
                # The name the object had then: after a change, or before a delete.
                "title": title_of(row.after) or title_of(row.before),
            }
            for row in rows
        ],
        filters=filters,
        versioned=set(VERSIONED_PATHS),
        **cursor_pager(filters, next_cursor, cursor),
    )
