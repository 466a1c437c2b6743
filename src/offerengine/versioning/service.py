"""Version history, rollback and the audit log: one mechanism for every configuration type.

A configuration type describes itself once as a :class:`Kind` (its model, how to dump its state,
how to restore a state); this module then records a version and an audit entry for every change,
lists and reads versions, and rolls an object back — recreating it if it was deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor, Principal
from offerengine.errors import Invalid, NotFound, StaleVersion
from offerengine.pagination import decode_cursor, encode_cursor
from offerengine.snapshots import service as snapshots
from offerengine.versioning.models import AuditEntry, ObjectVersion


class HasVersion(Protocol):
    version: Any


class Versioned(HasVersion, Protocol):
    id: Any
    tenant_id: Any


M = TypeVar("M", bound=Versioned)


@dataclass(frozen=True)
class Kind(Generic[M]):
    """A versioned configuration type."""

    name: str  # object_type in history and audit, e.g. "product"
    model: type[M]
    dump: Callable[[M], dict[str, Any]]  # the full state, JSON-ready, as the API shows it
    # Apply a recorded state: onto the live object, or (None) to recreate a deleted one.
    restore: Callable[[AsyncSession, M | None, Mapping[str, Any], uuid.UUID], Awaitable[M]]


def audit(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    tenant_id: uuid.UUID | None,
    object_type: str | None = None,
    object_id: uuid.UUID | None = None,
    version: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str | None = None,
) -> None:
    """Add an audit entry to the current transaction."""
    session.add(
        AuditEntry(
            tenant_id=tenant_id,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            actor_name=actor.name[:200],
            action=action,
            object_type=object_type,
            object_id=object_id,
            version=version,
            before=before,
            after=after,
            request_id=actor.request_id,
            detail=detail[:500] if detail else None,
        )
    )


def check_version(obj: HasVersion, expected: int | None, what: str) -> None:
    """Refuse a change made against another version than the current one."""
    if expected is not None and expected != obj.version:
        raise StaleVersion(
            f"{what} is at version {obj.version}, not {expected}; reload it and apply your change again",
            current_version=int(obj.version),
        )


async def record(
    session: AsyncSession,
    kind: Kind[M],
    obj: M,
    *,
    action: str,
    actor: Actor,
    before: dict[str, Any] | None,
    detail: str | None = None,
) -> dict[str, Any]:
    """Record the state of ``obj`` after a create, update or rollback; return that state."""
    bump(obj)
    await session.flush()
    return record_flushed(
        session, kind, obj, action=action, actor=actor, before=before, detail=detail
    )


def bump(obj: HasVersion) -> None:
    """Move a stored object to its next version (call before flushing a change to it)."""
    if sa.inspect(obj).persistent:
        obj.version = int(obj.version) + 1


def record_flushed(
    session: AsyncSession,
    kind: Kind[M],
    obj: M,
    *,
    action: str,
    actor: Actor,
    before: dict[str, Any] | None,
    detail: str | None = None,
) -> dict[str, Any]:
    """As :func:`record`, for an object already bumped and flushed (bulk changes flush once)."""
    after = kind.dump(obj)
    _add_version(session, kind, obj.tenant_id, obj.id, int(obj.version), action, after, actor)
    audit(
        session,
        actor=actor,
        action=f"{kind.name}.{action}",
        tenant_id=obj.tenant_id,
        object_type=kind.name,
        object_id=obj.id,
        version=int(obj.version),
        before=before,
        after=after,
        detail=detail,
    )
    snapshots.mark_object_changed(session, obj.tenant_id, kind.name, obj.id)
    return after


async def delete(session: AsyncSession, kind: Kind[M], obj: M, *, actor: Actor) -> None:
    """Delete ``obj``, keeping its history: a last version records the deletion."""
    state = kind.dump(obj)
    version = int(obj.version) + 1
    _add_version(session, kind, obj.tenant_id, obj.id, version, "delete", state, actor)
    audit(
        session,
        actor=actor,
        action=f"{kind.name}.delete",
        tenant_id=obj.tenant_id,
        object_type=kind.name,
        object_id=obj.id,
        version=version,
        before=state,
        after=None,
    )
    snapshots.mark_object_changed(session, obj.tenant_id, kind.name, obj.id)
    await session.delete(obj)
    await session.flush()


def _add_version(
    session: AsyncSession,
    kind: Kind[M],
    tenant_id: uuid.UUID,
    object_id: uuid.UUID,
    version: int,
    action: str,
    data: dict[str, Any],
    actor: Actor,
) -> None:
    session.add(
        ObjectVersion(
            tenant_id=tenant_id,
            object_type=kind.name,
            object_id=object_id,
            version=version,
            action=action,
            data=data,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            actor_name=actor.name[:200],
        )
    )


def _scoped_versions(
    kind: Kind[M], object_id: uuid.UUID, principal: Principal
) -> sa.Select[ObjectVersion]:
    stmt = sa.select(ObjectVersion).where(
        ObjectVersion.object_type == kind.name, ObjectVersion.object_id == object_id
    )
    if not principal.is_platform:
        stmt = stmt.where(ObjectVersion.tenant_id == principal.tenant_id)
    return stmt


async def ensure_visible(
    session: AsyncSession, kind: Kind[M], object_id: uuid.UUID, principal: Principal
) -> None:
    """404 unless the object has a history the caller's tenant may see."""
    found = await session.scalar(
        _scoped_versions(kind, object_id, principal).with_only_columns(ObjectVersion.id).limit(1)
    )
    if found is None:
        raise NotFound(f"No {kind.name} {object_id}.")


async def list_versions(
    session: AsyncSession, kind: Kind[M], object_id: uuid.UUID, principal: Principal
) -> Sequence[ObjectVersion]:
    """Every version of an object, oldest first (deleted objects keep their history)."""
    rows = (
        await session.scalars(
            _scoped_versions(kind, object_id, principal).order_by(ObjectVersion.version)
        )
    ).all()
    if not rows:
        raise NotFound(f"No {kind.name} {object_id}")
    return rows


async def get_version(
    session: AsyncSession, kind: Kind[M], object_id: uuid.UUID, version: int, principal: Principal
) -> ObjectVersion:
    row = await session.scalar(
        _scoped_versions(kind, object_id, principal).where(ObjectVersion.version == version)
    )
    if row is None:
        # Say which of the two is missing, without revealing another tenant's objects.
        await ensure_visible(session, kind, object_id, principal)
        raise NotFound(f"{kind.name} {object_id} has no version {version}")
    return row


async def rollback(
    session: AsyncSession,
    kind: Kind[M],
    object_id: uuid.UUID,
    *,
    version: int,
    principal: Principal,
    actor: Actor,
    expected_version: int | None,
) -> M:
    """Make a new version equal to ``version``; recreate the object if it was deleted."""
    target = await get_version(session, kind, object_id, version, principal)
    if target.action == "delete":
        raise Invalid.field(
            ("body", "version"), f"version {version} records the deletion; choose an earlier one"
        )
    obj = await session.scalar(sa.select(kind.model).where(kind.model.id == object_id))
    if obj is not None:
        check_version(obj, expected_version, kind.name)
        before: dict[str, Any] | None = kind.dump(obj)
    else:
        before = None
    restored = await kind.restore(session, obj, target.data, target.tenant_id)
    if obj is None:
        # A recreated object continues its history rather than starting again at 1.
        last = await session.scalar(
            sa.select(sa.func.max(ObjectVersion.version)).where(
                ObjectVersion.object_type == kind.name, ObjectVersion.object_id == object_id
            )
        )
        restored.id = object_id
        restored.tenant_id = target.tenant_id
        restored.version = int(last or 0) + 1
        session.add(restored)
    await record(
        session,
        kind,
        restored,
        action="rollback",
        actor=actor,
        before=before,
        detail=f"rolled back to version {version}",
    )
    return restored


# --- the audit log ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditQuery:
    tenant_id: uuid.UUID | None  # None: every tenant (platform only)
    object_type: str | None = None
    object_id: uuid.UUID | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_audit(
    session: AsyncSession, query: AuditQuery, *, limit: int, cursor: str | None
) -> tuple[Sequence[AuditEntry], str | None]:
    """Audit entries, newest first, with a cursor for the next page."""
    stmt = sa.select(AuditEntry)
    if query.tenant_id is not None:
        stmt = stmt.where(AuditEntry.tenant_id == query.tenant_id)
    if query.object_type:
        stmt = stmt.where(AuditEntry.object_type == query.object_type)
    if query.object_id:
        stmt = stmt.where(AuditEntry.object_id == query.object_id)
    if query.action:
        stmt = stmt.where(AuditEntry.action == query.action)
    if query.actor:
        try:
            stmt = stmt.where(AuditEntry.actor_id == uuid.UUID(query.actor))
        except ValueError:
            stmt = stmt.where(AuditEntry.actor_name == query.actor)
    if query.since:
        stmt = stmt.where(AuditEntry.at >= query.since)
    if query.until:
        stmt = stmt.where(AuditEntry.at < query.until)
    if cursor:
        at_text, id_text = decode_cursor(cursor, 2)
        try:
            at = datetime.fromisoformat(str(at_text))
            last_id = uuid.UUID(str(id_text))
        except ValueError as exc:
            raise Invalid.field(("query", "cursor"), "not a cursor returned by this list") from exc
        stmt = stmt.where(
            sa.or_(AuditEntry.at < at, sa.and_(AuditEntry.at == at, AuditEntry.id < last_id))
        )
    rows = (
        await session.scalars(
            stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit + 1)
        )
    ).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last.at.isoformat(), str(last.id)])
    return rows, next_cursor
