"""Many rows into one table in one statement or a few, bound without SQLAlchemy's per-row work.

The record store's batches (searches, offer bodies, decisions and their logs, quotes and their
lines) went through ``insert(table)`` with a list of rows, and SQLAlchemy built every row's
parameters anew (its construct_params and a processor call per value): more than a third of the
writer's time for a quote, beside what the database spent. Here the statement text and each
column's bind processor are made once per table and dialect, and a row costs one pass over its
values.

On SQLite the values are bound exactly as SQLAlchemy binds them (each column type's processor), a
page of rows per multi-row INSERT, as ``configure_sqlite`` has SQLite do: one statement per row
hands SQLite's GIL back at every row. On PostgreSQL a batch is one ``INSERT … SELECT FROM
unnest(…)`` with one array per column, sent in binary (:class:`_UnnestPlan`). Either way
``skip_existing`` leaves out rows whose key is stored already, so records written twice are stored
once.

:func:`insert_tuples` takes rows as tuples in the table's column order instead of mappings, and
binds a page a column at a time: no mapping to build per row, no Python step per value of a column
that needs no processing (a quote's ten analytics lines: ~28 -> ~24 µs, SQLite's work included).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa

ROWS_PER_STATEMENT = 1000
# Bound parameters in one statement: SQLite's limit (32,766 since 3.32; PostgreSQL's is 65,535).
PARAMETERS_PER_STATEMENT = 32_766
_NAMED = re.compile(r"%\((\w+)\)s")


class _Plan:
    __slots__ = ("columns", "group", "in_table_order", "page", "prefix", "processed")

    def __init__(self, table: sa.Table, dialect: sa.Dialect) -> None:
        compiled = sa.insert(table).compile(dialect=dialect)
        prefix, group = compiled.string.split(" VALUES ", 1)
        if dialect.paramstyle == "qmark":  # SQLite
            names = list(compiled.positiontup or ())
        elif dialect.paramstyle == "pyformat":  # psycopg
            names = _NAMED.findall(group)
            group = _NAMED.sub("%s", group)
        else:  # no driver of ours: its placeholders are not read here
            raise NotImplementedError(f"multi-row inserts for paramstyle {dialect.paramstyle}")
        bind = compiled.binds
        # Each column in the statement's order, with its type's bind processor (None: as is).
        self.columns: tuple[tuple[str, Callable[[Any], Any] | None], ...] = tuple(
            (bind[n].key, bind[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names
        )
        self.prefix = f"{prefix} VALUES "
        self.group = group
        self.page = max(1, min(ROWS_PER_STATEMENT, PARAMETERS_PER_STATEMENT // len(names)))
        # For insert_tuples: the columns that need a processor, and whether the statement takes
        # the table's columns in the table's order (a plain insert of a table does).
        self.processed = tuple((j, p) for j, (_, p) in enumerate(self.columns) if p is not None)
        self.in_table_order = [n for n, _ in self.columns] == [c.key for c in table.columns]


@functools.lru_cache(maxsize=128)
def _plan(table: sa.Table, dialect: sa.Dialect) -> _Plan:
    return _Plan(table, dialect)


def insert_many(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_existing: bool = False,
    returning: str | None = None,
) -> list[Any]:
    """Insert ``rows``, each of which names every column of ``table`` (a missing one is a
    ``KeyError``: no column default is filled in here). ``skip_existing``: a row whose key is
    taken already is left out (``ON CONFLICT DO NOTHING``, PostgreSQL and SQLite alike), so that
    the same rows written twice are stored once. ``returning`` names a column whose values of
    the rows actually inserted are returned (as the driver gives them)."""
    if not rows:
        return []
    if connection.dialect.name == "postgresql":
        columns = [c.key for c in table.columns]
        return _unnest(
            connection, table, [[row[c] for row in rows] for c in columns], skip_existing, returning
        )
    plan = _plan(table, connection.dialect)
    suffix = _suffix(skip_existing, returning)
    inserted: list[Any] = []
    for start in range(0, len(rows), plan.page):
        page = rows[start : start + plan.page]
        values: list[Any] = []
        append = values.append
        for row in page:
            for column, process in plan.columns:
                value = row[column]
                append(value if process is None else process(value))
        sql = plan.prefix + ", ".join([plan.group] * len(page)) + suffix
        result = connection.exec_driver_sql(sql, tuple(values))
        if returning is not None:
            inserted.extend(row[0] for row in result)
    return inserted


def _suffix(skip_existing: bool, returning: str | None) -> str:
    suffix = " ON CONFLICT DO NOTHING" if skip_existing else ""
    if returning is not None:
        if not returning.isidentifier():
            raise ValueError(f"not a column name: {returning!r}")
        suffix += f" RETURNING {returning}"
    return suffix


def insert_tuples(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[Sequence[Any]],
    *,
    skip_existing: bool = False,
) -> None:
    """Insert ``rows``, each a tuple of a value for every column of ``table``, in the order of
    ``table.columns`` (a row of another length is a ``ValueError``), bound as :func:`insert_many`
    binds them; ``skip_existing`` as there."""
    if not rows:
        return
    width = len(table.columns)
    if set(map(len, rows)) != {width}:
        raise ValueError(f"each row of {table.name} has {width} values, one per column")
    if connection.dialect.name == "postgresql":
        _unnest(
            connection,
            table,
            [list(column) for column in zip(*rows, strict=True)],
            skip_existing,
            None,
        )
        return
    plan = _plan(table, connection.dialect)
    if not plan.in_table_order:  # no table of ours: sa.insert(table) keeps the table's order
        raise NotImplementedError(f"{table.name}: its insert does not take its columns in order")
    for start in range(0, len(rows), plan.page):
        page = rows[start : start + plan.page]
        values = list(itertools.chain.from_iterable(page))
        for j, process in plan.processed:
            values[j::width] = [process(v) for v in values[j::width]]
        sql = plan.prefix + ", ".join([plan.group] * len(page)) + _suffix(skip_existing, None)
        connection.exec_driver_sql(sql, tuple(values))


# --- PostgreSQL: one array per column --------------------------------------------------------

_ARRAY_TYPES = {  # the array a column's values are sent as; text for every string (below)
    "UUID": "uuid",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIMESTAMP WITHOUT TIME ZONE": "timestamp",
    "BIGINT": "int8",
    "INTEGER": "int4",
    "SMALLINT": "int2",
    "FLOAT": "float8",
    "DOUBLE PRECISION": "float8",
    "BOOLEAN": "bool",
    "DATE": "date",
    "BYTEA": "bytea",
    "JSONB": "text",
    "JSON": "text",
}


class _UnnestPlan:
    """``INSERT INTO t (cols) SELECT … FROM unnest(%s::type[], …)``: a short statement whatever the
    number of rows (psycopg keeps its parsed form; a multi-row VALUES statement of 1,000 rows was
    parsed anew each time, ~14 µs a row), each column's values one array parameter."""

    __slots__ = ("processors", "sql")

    def __init__(self, table: sa.Table, dialect: sa.Dialect) -> None:
        names, arrays, selected = [], [], []
        processors: list[Callable[[Any], Any] | None] = []
        for i, column in enumerate(table.columns):
            kind = column.type.dialect_impl(dialect).compile(dialect=dialect)
            base = kind.split("(")[0].strip()
            # Strings go as text: a cast to varchar(n) would cut a value that is too long, where
            # the insert's own assignment refuses it.
            array = _ARRAY_TYPES.get(base, "text")
            names.append(f'"{column.name}"')
            arrays.append(f"%b::{array}[]")  # binary: no escaping of every element
            if base in ("JSONB", "JSON"):
                selected.append(f"u{i}::{base.lower()}")
                processors.append(_json_text)
            else:
                selected.append(f"u{i}")
                processors.append(column.type.dialect_impl(dialect).bind_processor(dialect))
        aliases = ", ".join(f"u{i}" for i in range(len(names)))
        into, values = ", ".join(names), ", ".join(selected)
        source = f"unnest({', '.join(arrays)}) AS u({aliases})"
        self.sql = f'INSERT INTO "{table.name}" ({into}) SELECT {values} FROM {source}'  # noqa: S608
        self.processors = tuple(processors)


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


@functools.lru_cache(maxsize=128)
def _unnest_plan(table: sa.Table, dialect: sa.Dialect) -> _UnnestPlan:
    return _UnnestPlan(table, dialect)


def _unnest(
    connection: sa.Connection,
    table: sa.Table,
    columns: list[list[Any]],
    skip_existing: bool,
    returning: str | None,
) -> list[Any]:
    plan = _unnest_plan(table, connection.dialect)
    values = tuple(
        column if process is None else [process(v) for v in column]
        for column, process in zip(columns, plan.processors, strict=True)
    )
    result = connection.exec_driver_sql(plan.sql + _suffix(skip_existing, returning), values)
    return [row[0] for row in result] if returning is not None else []
