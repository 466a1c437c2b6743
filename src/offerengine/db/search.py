"""Searches in SQL: a case-insensitive substring with the user's text taken literally, and a
JSON list holding a value (each database's own way, so that an index or a scan in the database
answers rather than Python)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import QueryableAttribute


def contains(
    column: sa.ColumnElement[Any] | QueryableAttribute[Any], text: str
) -> sa.ColumnElement[bool]:
    """``column`` contains ``text``, ignoring case; ``%`` and ``_`` in ``text`` match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def json_list_holds(
    column: sa.ColumnElement[Any] | QueryableAttribute[Any], value: str, dialect: str
) -> sa.ColumnElement[bool]:
    """The JSON list in ``column`` holds the string ``value`` (JSONB's ``@>`` on PostgreSQL,
    ``json_each`` on SQLite)."""
    if dialect == "postgresql":
        return sa.type_coerce(column, postgresql.JSONB).contains([value])
    each = sa.func.json_each(column).table_valued("value")
    return sa.exists(sa.select(each.c.value).where(each.c.value == value))
