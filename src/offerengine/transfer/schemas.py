"""What the bulk import and export routes answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from offerengine.transfer.models import ImportJob

KindPath = Literal["products", "decisioning-offers", "commission-rates"]
FileFormat = Literal["json", "jsonl", "csv", "parquet"]


class ImportResult(BaseModel):
    """What an import did: every row was imported (or, on an error, none)."""

    kind: KindPath
    rows: int = Field(description="Rows in the file.")
    created: int
    updated: int
    unchanged: int = Field(description="Rows equal to their object: no new version.")


class ImportJobRead(BaseModel):
    """An import running in the background, or its outcome."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    file_name: str | None
    status: Literal["running", "done", "failed"]
    phase: str = Field(description="reading, checking, writing, then done (or failed).")
    processed: int = Field(description="Rows done in this phase.")
    total: int = Field(description="Rows in the file (0 while it is read).")
    created: int
    updated: int
    unchanged: int
    problem: dict[str, Any] | None = Field(
        default=None,
        description="Why nothing was imported: the problem document the synchronous import "
        "answers (bad rows listed with their errors).",
    )
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: ImportJob, live: tuple[str, int, int] | None = None) -> ImportJobRead:
        phase, processed, total = live or (job.phase, job.processed, job.total)
        return cls(
            id=job.id,
            tenant_id=job.tenant_id,
            kind=job.kind,
            file_name=job.file_name,
            status=job.status,
            phase=phase,
            processed=processed,
            total=total,
            created=job.created,
            updated=job.updated,
            unchanged=job.unchanged,
            problem=job.problem,
            created_at=job.created_at,
            finished_at=job.finished_at,
        )
