"""``INSERT … ON CONFLICT`` in the dialect of the session's database (PostgreSQL or SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert(session: AsyncSession, model: Any) -> Any:
    """An insert of ``model`` that has ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    return insert_for(session.get_bind().dialect.name, model)


def insert_for(dialect: str, model: Any) -> Any:
    """:func:`insert` for the ``dialect`` named (``postgresql`` or ``sqlite``)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def count_up(
    session: AsyncSession, model: Any, key: dict[str, Any], limit: int | None
) -> bool:
    """Add one to ``model``'s ``count`` at the row of primary key ``key`` (made at 1 if new) —
    only while it is below ``limit``, when given — in one statement; whether it counted. Two
    writers racing for the last unit cannot both take it."""
    stmt = (
        insert(session, model)
        .values(**key, count=1)
        .on_conflict_do_update(
            index_elements=list(key),
            set_={"count": model.count + 1},
            where=None if limit is None else model.count < limit,
        )
        .returning(model.count)
    )
    return (await session.execute(stmt)).first() is not None


def add_up_statement(dialect: str, model: Any, keys: list[str], columns: list[str]) -> Any:
    """The statement :func:`add_up` runs, for the ``dialect`` named (``postgresql`` or
    ``sqlite``), to execute with the rows as its parameters."""
    stmt = insert_for(dialect, model)
    return stmt.on_conflict_do_update(
        index_elements=keys,
        set_={c: getattr(model, c) + getattr(stmt.excluded, c) for c in columns},
    )


async def add_up(
    session: AsyncSession,
    model: Any,
    rows: list[dict[str, Any]],
    keys: list[str],
    columns: list[str],
) -> None:
    """Add each of ``rows``' ``columns`` to the row with the same ``keys`` (made with them if
    new), in one statement for all the rows."""
    if not rows:
        return
    stmt = add_up_statement(session.get_bind().dialect.name, model, keys, columns)
    connection = await session.connection()
    await connection.execute(stmt, rows)
