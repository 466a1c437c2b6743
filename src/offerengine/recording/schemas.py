"""API shapes of dead letters."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from offerengine.recording.models import DeadLetter


class DeadLetterRead(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="search, decision, quote, exposure, or event (from a broker).")
    record_id: str = Field(description="The record's key (a quote's or decision's id, ...).")
    source: str = Field(description="Where it was refused: `writer` (the embedded recorder).")
    error: str = Field(description="What the database said, without the statement's values.")
    created_at: datetime
    redriven_at: datetime | None = Field(description="When it was written after all, if it was.")
    record: dict[str, Any] = Field(description="The record as it was answered.")

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterRead:
        return cls(
            id=letter.id,
            kind=letter.kind,
            record_id=letter.record_id,
            source=letter.source,
            error=letter.error,
            created_at=letter.created_at,
            redriven_at=letter.redriven_at,
            record=_displayable(json.loads(letter.payload)),
        )


class DeadLetterList(BaseModel):
    items: list[DeadLetterRead]


class RedriveRequest(BaseModel):
    ids: list[uuid.UUID] | None = Field(
        default=None, max_length=1000, description="The dead letters to re-drive; all if omitted."
    )


class RedriveResult(BaseModel):
    id: uuid.UUID
    written: bool
    error: str | None


class RedriveResponse(BaseModel):
    results: list[RedriveResult]


def _displayable(value: Any) -> Any:
    """``value`` with every lone surrogate written as its escape (``\\ud800``): JSON cannot
    carry them, and they are often what the database refused."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode()
        return value
    if isinstance(value, dict):
        return {_displayable(k): _displayable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_displayable(v) for v in value]
    return value
