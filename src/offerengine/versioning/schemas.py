from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from offerengine.fields import Version
from offerengine.versioning.models import AuditEntry, ObjectVersion


class ActorRead(BaseModel):
    kind: str = Field(description="api_key, platform_key, platform_env, cli or system.")
    id: uuid.UUID | None
    name: str


class ChangeRead(BaseModel):
    path: str
    before: Any
    after: Any


class VersionSummary(BaseModel):
    version: int
    action: str = Field(description="create, update, rollback or delete.")
    actor: ActorRead
    created_at: datetime
    changes: list[ChangeRead] = Field(description="What changed from the previous version.")


class VersionList(BaseModel):
    object_type: str
    object_id: uuid.UUID
    current_version: int | None = Field(description="None when the object has been deleted.")
    items: list[VersionSummary]


class VersionDetail(BaseModel):
    object_type: str
    object_id: uuid.UUID
    version: int
    action: str
    actor: ActorRead
    created_at: datetime
    data: dict[str, Any] = Field(description="The object's full state at this version.")

    @classmethod
    def of(cls, row: ObjectVersion) -> VersionDetail:
        return cls(
            object_type=row.object_type,
            object_id=row.object_id,
            version=row.version,
            action=row.action,
            actor=ActorRead(kind=row.actor_kind, id=row.actor_id, name=row.actor_name),
            created_at=row.created_at,
            data=row.data,
        )


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version = Field(
        description="The version to return to; a new version equal to it is made."
    )


class AuditRead(BaseModel):
    id: uuid.UUID
    at: datetime
    tenant_id: uuid.UUID | None
    actor: ActorRead
    action: str
    object_type: str | None
    object_id: uuid.UUID | None
    version: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    detail: str | None

    @classmethod
    def of(cls, row: AuditEntry) -> AuditRead:
        return cls(
            id=row.id,
            at=row.at,
            tenant_id=row.tenant_id,
            actor=ActorRead(kind=row.actor_kind, id=row.actor_id, name=row.actor_name),
            action=row.action,
            object_type=row.object_type,
            object_id=row.object_id,
            version=row.version,
            before=row.before,
            after=row.after,
            request_id=row.request_id,
            detail=row.detail,
        )
