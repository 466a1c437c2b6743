"""Case-insensitive substring search in SQL, with the user's text taken literally."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute


def contains(
    column: sa.ColumnElement[Any] | QueryableAttribute[Any], text: str
) -> sa.ColumnElement[bool]:
    """``column`` contains ``text``, ignoring case; ``%`` and ``_`` in ``text`` match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")
