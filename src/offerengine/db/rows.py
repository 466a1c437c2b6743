"""Many rows into one table in multi-row INSERTs, bound without SQLAlchemy's per-row work.

The writers' batches (quotes and their lines, at every flush) went through ``insert(table)`` with
a list of rows, and SQLAlchemy built every row's parameters anew (its construct_params and a
processor call per value): more than a third of the writer's time for a quote, beside what the
database spent. Here the statement text and each column's bind processor are made once per
table and dialect, and a row costs one pass over its values.

The values are bound exactly as SQLAlchemy binds them (each column type's processor for the
dialect, the same casts on PostgreSQL), a page of rows per statement, as
``configure_sqlite`` has SQLite do: one statement per row hands SQLite's GIL back at every row.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

ROWS_PER_STATEMENT = 1000
# Bound parameters in one statement: SQLite's limit (32,766 since 3.32; PostgreSQL's is 65,535).
PARAMETERS_PER_STATEMENT = 32_766
_NAMED = re.compile(r"%\((\w+)\)s")


class ManyRows:
    """A statement of a writer's batch that :func:`insert_many` runs (where an executable's
    would be ``connection.execute(statement, rows)``)."""

    __slots__ = ("table",)

    def __init__(self, table: sa.Table) -> None:
        self.table = table


class _Plan:
    __slots__ = ("columns", "group", "page", "prefix", "processors")

    def __init__(self, table: sa.Table, dialect: sa.Dialect) -> None:
        compiled = sa.insert(table).compile(dialect=dialect)
        prefix, values = compiled.string.split(" VALUES ", 1)
        if dialect.paramstyle == "qmark":
            names = list(compiled.positiontup or ())
            group = values
        elif dialect.paramstyle in ("format", "pyformat"):
            names = _NAMED.findall(values)
            group = _NAMED.sub("%s", values)
        else:  # not a dialect of ours (numeric, named): nothing below would bind right
            raise NotImplementedError(f"multi-row inserts for paramstyle {dialect.paramstyle}")
        bind = compiled.binds
        self.columns = tuple(bind[n].key for n in names)
        self.processors: tuple[Callable[[Any], Any] | None, ...] = tuple(
            bind[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names
        )
        self.prefix = f"{prefix} VALUES "
        self.group = group
        self.page = max(1, min(ROWS_PER_STATEMENT, PARAMETERS_PER_STATEMENT // len(names)))


@functools.lru_cache(maxsize=128)
def _plan(table: sa.Table, dialect: sa.Dialect) -> _Plan:
    return _Plan(table, dialect)


def insert_many(
    connection: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows``, each of which names every column of ``table`` (a missing one is a
    ``KeyError``: no column default is filled in here)."""
    if not rows:
        return
    plan = _plan(table, connection.dialect)
    pairs = tuple(zip(plan.columns, plan.processors, strict=True))
    for start in range(0, len(rows), plan.page):
        page = rows[start : start + plan.page]
        values: list[Any] = []
        append = values.append
        for row in page:
            for column, process in pairs:
                value = row[column]
                append(value if process is None else process(value))
        sql = plan.prefix + ", ".join([plan.group] * len(page))
        connection.exec_driver_sql(sql, tuple(values))
