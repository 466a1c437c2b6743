"""Keyset pages of a select: rows after the cursor's place in an order that ends in a unique
column, read with ``LIMIT`` (an index on the order serves it; no ``OFFSET``, no Python paging).

The cursor (:mod:`offerengine.pagination`) carries the last row's values of the order's
columns; a cursor of another order, or holding values of the wrong type, is a 422 on
``cursor``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.errors import Invalid
from offerengine.pagination import Scalar, decode_cursor, encode_cursor


async def keyset_page(
    session: AsyncSession,
    stmt: sa.Select[Any],
    order: Sequence[Any],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Any], str | None]:
    """A page of ``stmt``'s rows (one entity selected) in ``order`` (columns, ending in one
    unique among the rows), after ``cursor``; and the cursor of the next page."""
    if cursor:
        after = [
            _parse(c, v) for c, v in zip(order, decode_cursor(cursor, len(order)), strict=True)
        ]
        stmt = stmt.where(_after(order, after))
    rows = (await session.scalars(stmt.order_by(*order).limit(limit + 1))).all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor([_shown(getattr(rows[-1], c.key)) for c in order])


def _after(order: Sequence[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """Rows after ``values`` in ``order``: (a > x) or (a = x and b > y) or …"""
    clauses = []
    for n, column in enumerate(order):
        equal = [order[i] == values[i] for i in range(n)]
        clauses.append(sa.and_(*equal, column > values[n]))
    return sa.or_(*clauses)


def _shown(value: Any) -> Scalar:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def _parse(column: Any, value: Scalar) -> Any:
    stored = column.type
    if isinstance(stored, sa.types.TypeDecorator):  # UTCDateTime: its implementation's type
        stored = stored.impl_instance
    kind = stored.python_type
    try:
        if kind is datetime:
            return datetime.fromisoformat(str(value))
        if kind is uuid.UUID:
            return uuid.UUID(str(value))
        if kind is int and not isinstance(value, bool):
            return int(str(value))
        if kind is str and isinstance(value, str):
            return value
    except ValueError:
        pass
    raise Invalid.field(("query", "cursor"), "not a cursor returned by this list")
