"""Version history routes for any configuration type, and the audit log.

No ``from __future__ import annotations``: the route functions made by :func:`add_version_routes`
close over local dependency aliases, which FastAPI must see as objects, not as names.
"""

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from offerengine.auth.deps import (
    ConfigReader,
    ConfigWriter,
    CurrentActor,
    CurrentPrincipal,
    PlatformCaller,
)
from offerengine.deps import DbSession
from offerengine.errors import NotFound
from offerengine.fields import Timestamp, Version
from offerengine.http.query import Cursor, Limit
from offerengine.http.routing import IfMatch, router, set_etag
from offerengine.pagination import DEFAULT_LIMIT, Page
from offerengine.tenants import service as tenants
from offerengine.tenants.deps import PathTenant
from offerengine.versioning import core, service
from offerengine.versioning.models import ObjectVersion
from offerengine.versioning.schemas import (
    ActorRead,
    AuditRead,
    ChangeRead,
    RollbackRequest,
    VersionDetail,
    VersionList,
    VersionSummary,
)

R = TypeVar("R", bound=BaseModel)
ObjectId = Annotated[uuid.UUID, Path(description="The object's id.")]
VersionNumber = Annotated[Version, Path(description="A version number.")]


# Where each kind's versions live in the API (kind name → collection path), for the admin UI's
# history pages; filled by add_version_routes.
VERSIONED_PATHS: dict[str, str] = {}


def add_version_routes(
    api: APIRouter,
    kind: service.Kind[Any],
    *,
    path: str,
    operation: str,
    read_model: type[R],
    to_read: Callable[[Any], R],
) -> None:
    """Add ``{path}/{id}/versions``, ``…/versions/{version}`` and ``…/rollback`` for ``kind``."""
    VERSIONED_PATHS[kind.name] = path

    async def visible(id: ObjectId, principal: CurrentPrincipal, session: DbSession) -> uuid.UUID:
        # Isolation before anything else: another tenant's object is a 404 whatever the body says.
        await service.ensure_visible(session, kind, id, principal)
        return id

    Visible = Annotated[uuid.UUID, Depends(visible)]  # noqa: N806 - a type alias
    label = kind.name.replace("_", " ")
    _add_history_routes(api, kind, Visible, path=path, operation=operation, label=label)
    _add_rollback_route(
        api,
        kind,
        Visible,
        path=path,
        operation=operation,
        label=label,
        read_model=read_model,
        to_read=to_read,
    )


def _add_history_routes(
    api: APIRouter, kind: service.Kind[Any], visible: Any, *, path: str, operation: str, label: str
) -> None:
    """``GET {path}/{id}/versions`` and ``GET {path}/{id}/versions/{version}``."""

    async def list_versions(
        id: visible, principal: ConfigReader, session: DbSession
    ) -> VersionList:
        rows = await service.list_versions(session, kind, id, principal)
        return _version_list(kind, id, rows)

    async def get_version(
        id: visible,
        version: VersionNumber,
        principal: ConfigReader,
        session: DbSession,
    ) -> VersionDetail:
        return VersionDetail.of(await service.get_version(session, kind, id, version, principal))

    api.add_api_route(
        f"{path}/{{id:uuid}}/versions",
        list_versions,
        methods=["GET"],
        response_model=VersionList,
        operation_id=f"list{operation}Versions",
        summary=f"List a {label}'s versions",
        description=f"Every version of the {label}, oldest first, with what changed in each. "
        "A deleted object keeps its history.",
    )
    api.add_api_route(
        f"{path}/{{id:uuid}}/versions/{{version}}",
        get_version,
        methods=["GET"],
        response_model=VersionDetail,
        operation_id=f"get{operation}Version",
        summary=f"Get one version of a {label}",
    )


def _version_list(
    kind: service.Kind[Any], object_id: uuid.UUID, rows: Sequence[ObjectVersion]
) -> VersionList:
    """The versions of an object, each with what changed from the one before."""
    items, previous = [], None
    for row in rows:
        changes = core.diff(previous or {}, row.data) if row.action != "delete" else []
        items.append(
            VersionSummary(
                version=row.version,
                action=row.action,
                actor=ActorRead(kind=row.actor_kind, id=row.actor_id, name=row.actor_name),
                created_at=row.created_at,
                changes=[ChangeRead(**c.as_dict()) for c in changes],
            )
        )
        previous = row.data
    deleted = rows[-1].action == "delete"
    return VersionList(
        object_type=kind.name,
        object_id=object_id,
        current_version=None if deleted else rows[-1].version,
        items=items,
    )


def _add_rollback_route(
    api: APIRouter,
    kind: service.Kind[Any],
    visible: Any,
    *,
    path: str,
    operation: str,
    label: str,
    read_model: type[R],
    to_read: Callable[[Any], R],
) -> None:
    """``POST {path}/{id}/rollback``: a new version equal to an earlier one."""

    async def rollback(
        id: visible,
        body: RollbackRequest,
        principal: ConfigWriter,
        actor: CurrentActor,
        session: DbSession,
        if_match: IfMatch,
        response: Response,
    ) -> Any:
        restored = await service.rollback(
            session,
            kind,
            id,
            version=body.version,
            principal=principal,
            actor=actor,
            expected_version=if_match,
        )
        set_etag(response, int(restored.version))
        return to_read(restored)

    api.add_api_route(
        f"{path}/{{id:uuid}}/rollback",
        rollback,
        methods=["POST"],
        response_model=read_model,
        operation_id=f"rollback{operation}",
        summary=f"Roll a {label} back",
        description=f"Make a new version of the {label} equal to an earlier one; a deleted {label} "
        "is recreated with its id.",
    )


api = router(tags=["audit"])


def _audit_query(
    tenant_id: uuid.UUID | None,
    object_type: str | None,
    object_id: uuid.UUID | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
) -> service.AuditQuery:
    return service.AuditQuery(tenant_id, object_type, object_id, actor, action, since, until)


ObjectType = Annotated[str | None, Query(min_length=1, max_length=50, description="e.g. product")]
ObjectIdQ = Annotated[uuid.UUID | None, Query()]
ActorQ = Annotated[
    str | None, Query(min_length=1, max_length=200, description="A key id, or an actor name.")
]
ActionQ = Annotated[
    str | None, Query(min_length=1, max_length=30, description="e.g. product.update")
]
Since = Annotated[Timestamp | None, Query(description="Entries at or after this time.")]
Until = Annotated[Timestamp | None, Query(description="Entries before this time.")]


@api.get("/v1/admin/tenants/{tenant}/audit", operation_id="listTenantAudit")
async def list_tenant_audit(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    object_type: ObjectType = None,
    object_id: ObjectIdQ = None,
    actor: ActorQ = None,
    action: ActionQ = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[AuditRead]:
    """Who changed what in this tenant, and when, with the state before and after; newest first."""
    query = _audit_query(tenant.id, object_type, object_id, actor, action, since, until)
    rows, next_cursor = await service.list_audit(session, query, limit=limit, cursor=cursor)
    return Page[AuditRead](items=[AuditRead.of(r) for r in rows], next_cursor=next_cursor)


@api.get("/v1/admin/audit", operation_id="listAudit")
async def list_audit(
    _: PlatformCaller,
    session: DbSession,
    tenant: Annotated[
        str | None, Query(min_length=1, max_length=64, description="A tenant id or code.")
    ] = None,
    object_type: ObjectType = None,
    object_id: ObjectIdQ = None,
    actor: ActorQ = None,
    action: ActionQ = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[AuditRead]:
    """The whole deployment's audit log (platform key), including every use of a platform key."""
    tenant_id = None
    if tenant is not None:
        found = await tenants.find(session, tenant)
        if found is None:
            raise NotFound(f"No tenant {tenant!r}.")
        tenant_id = found.id
    query = _audit_query(tenant_id, object_type, object_id, actor, action, since, until)
    rows, next_cursor = await service.list_audit(session, query, limit=limit, cursor=cursor)
    return Page[AuditRead](items=[AuditRead.of(r) for r in rows], next_cursor=next_cursor)
