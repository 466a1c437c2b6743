"""Reading history for people (the admin UI's history and audit pages): every version of an
object, and pages of the audit log, each read in a session of its own from the app context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa

from offerengine.db.session import Sessions
from offerengine.versioning import service as versioning
from offerengine.versioning.models import AuditEntry, ObjectVersion


async def object_versions(
    sessions: Sessions, *, tenant_id: uuid.UUID, object_type: str, object_id: uuid.UUID
) -> Sequence[ObjectVersion]:
    """Every recorded version of one of the tenant's objects, oldest first."""
    async with sessions.session_factory() as session:
        found = await session.scalars(
            sa.select(ObjectVersion)
            .where(
                ObjectVersion.tenant_id == tenant_id,
                ObjectVersion.object_type == object_type,
                ObjectVersion.object_id == object_id,
            )
            .order_by(ObjectVersion.version)
        )
        return found.all()


async def audit_entries(
    sessions: Sessions, query: versioning.AuditQuery, *, limit: int, cursor: str | None
) -> tuple[Sequence[AuditEntry], str | None]:
    """A page of the audit log, newest first, with the cursor of the next."""
    async with sessions.session_factory() as session:
        return await versioning.list_audit(session, query, limit=limit, cursor=cursor)
