"""Framework-free field types of the API's shapes: ISO 8601 timestamps and dates, and the field
errors of a problem document. Schemas (and so use cases) use them without importing the web
layer; the web layer documents and answers with the same types.

Every date and time the API takes lies between :data:`FIRST_DAY` and :data:`LAST_DAY`: Python's
calendar ends at years 1 and 9999, and the engine adds to what it is given (a time zone's
offset, an arrival's next day, a schedule's following day, a hold or an offer's lifetime), so a
date at either end would fail in that arithmetic, a 500, where it must be a 422 naming the
field. The window is wide enough for any offer, flight, birth date or event.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, Field

_ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
_WINDOW = f"between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}"


def _in_calendar(value: date) -> date:
    # A datetime is a date too; its day (in its own zone) is what is bounded.
    day = value.date() if isinstance(value, datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"expected a date {_WINDOW}")
    return value


InCalendar = AfterValidator(_in_calendar)
"""Bounds any date or datetime field to the window every calculation stays in (see above)."""

MAX_INT = 2**31 - 1
"""The largest whole number a client may send where it is stored or looked up in an integer
column (PostgreSQL's ``integer``; SQLite's take up to 2**63 - 1): versions, counts, capacities.
Past it the database refuses the value, a 500, where it must be a 422 naming the field."""

Version = Annotated[int, Field(ge=1, le=MAX_INT)]
"""A version number a client names (to return to, or to base a change on)."""


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


IsoDate = Annotated[date, BeforeValidator(_date_only), InCalendar]


def _local_only(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_8601.match(value):
        raise ValueError("expected a local ISO 8601 date-time, e.g. 2026-12-20T08:30:00")
    return value


LocalDateTime = Annotated[datetime, BeforeValidator(_local_only), InCalendar]

Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_only),
    InCalendar,
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
