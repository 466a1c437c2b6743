"""Framework-free field types of the API's shapes: ISO 8601 timestamps and dates, and the field
errors of a problem document. Schemas (and so use cases) use them without importing the web
layer; the web layer documents and answers with the same types."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

_ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_only(value: Any) -> Any:
    # Pydantic would read 0 or "0.5" as a Unix timestamp; the API says ISO 8601, so only that is
    # accepted (and datetimes, from code).
    if isinstance(value, int | float) or (isinstance(value, str) and not _ISO_8601.match(value)):
        raise ValueError("expected an ISO 8601 date-time with a zone, e.g. 2026-11-22T10:00:00Z")
    return value


def _date_only(value: Any) -> Any:
    # Pydantic would read 0 as 1970-01-01; the API says an ISO date, so only a string is accepted.
    if not isinstance(value, (str, date)):
        raise ValueError("expected an ISO 8601 date, e.g. 2026-12-20")
    return value


IsoDate = Annotated[date, BeforeValidator(_date_only)]


def _local_only(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_8601.match(value):
        raise ValueError("expected a local ISO 8601 date-time, e.g. 2026-12-20T08:30:00")
    return value


LocalDateTime = Annotated[datetime, BeforeValidator(_local_only)]

Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_only),
    Field(description="ISO 8601 with a zone, e.g. 2026-11-22T10:00:00Z."),
]


class ProblemFieldError(BaseModel):
    loc: list[str | int] = Field(
        description="Path to the offending input, e.g. ['body', 'base_price']."
    )
    msg: str
    type: str
    position: int | None = Field(
        default=None, description="For an error inside a rule's text: the 0-based character offset."
    )
