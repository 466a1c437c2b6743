"""Per-tenant uniqueness of a configuration object's natural key, checked before saving.

The database's unique constraint is the guarantee; this check turns the common case into a 409 that
names the field and the object already holding the value.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from offerengine.errors import Conflict


async def ensure_unused(
    session: AsyncSession,
    column: InstrumentedAttribute[Any],
    value: Any,
    *,
    tenant_id: uuid.UUID,
    exclude: uuid.UUID | None,
    what: str,
    where: tuple[sa.ColumnElement[bool], ...] = (),
) -> None:
    """No other ``what`` of the tenant (among rows matching ``where``) has ``value`` in ``column``
    (409 on the body field if so)."""
    model: Any = column.class_
    stmt = sa.select(model.id).where(model.tenant_id == tenant_id, column == value, *where)
    if exclude is not None:
        stmt = stmt.where(model.id != exclude)
    other = await session.scalar(stmt)
    if other is not None:
        field = column.key
        raise Conflict.field(
            ("body", field), f"{field} {value!r} is already used by {what} {other}"
        )
