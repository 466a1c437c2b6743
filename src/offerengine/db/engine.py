"""Database URLs and engines for SQLite (the default) and PostgreSQL.

Users give a plain URL (``sqlite:///var/x.db``, ``postgresql://user@host/db``); the async driver for
the app (aiosqlite, psycopg) and the sync driver for migrations (sqlite3, psycopg) are chosen here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000
# An error's text (and the echo of ``database_echo``) leaves out the statement's bound values:
# they are customers' ids, emails and bodies, and that text ends up in logs and dead letters.
HIDE_PARAMETERS = True


def _parse(url: str | URL) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed


def async_url(url: str | URL) -> URL:
    parsed = _parse(url)
    driver = "sqlite+aiosqlite" if parsed.get_backend_name() == "sqlite" else "postgresql+psycopg"
    return parsed.set(drivername=driver)


def sync_url(url: str | URL) -> URL:
    parsed = _parse(url)
    driver = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql+psycopg"
    return parsed.set(drivername=driver)


def ensure_sqlite_dir(url: str | URL) -> None:
    """Create the folder of a SQLite file so that a fresh clone can start without set-up."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


# No prepared statements kept: a kept statement keeps what was last bound to it, and a multi-row
# INSERT of offer bodies binds megabytes (measured: the cache grew a served worker by ~6 KB a
# search). The hot path reads SQLite on intervals, not per request.
SQLITE_CONNECT: dict[str, Any] = {"timeout": 30, "cached_statements": 0}


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside one writer; the busy timeout makes writers queue, not fail.
    # Transactions are begun by us (see _sqlite_begin), so the driver must not start its own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A writer must take the lock when it begins: a deferred transaction that reads and then writes
    # fails with SQLITE_BUSY at once when another writer got in between, and no timeout helps.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def configure_sqlite(engine: sa.Engine) -> None:
    # Many rows go in as multi-row INSERTs (a page of up to 1,000 rows per statement), not as one
    # statement per row: the driver hands the GIL back at every row it steps, and with the event
    # loop busy each hand-back waited out the 5 ms switch interval, so a flush of a few thousand
    # rows under load took seconds and the writer's backlog grew without bound.
    engine.dialect.use_insertmanyvalues_wo_returning = True
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)


def create_engine(url: str | URL, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """The app's async engine."""
    ensure_sqlite_dir(url)
    target = async_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": HIDE_PARAMETERS}
    if target.get_backend_name() == "postgresql":
        # A server can close a connection the pool holds (a restart, an idle timeout): test each
        # on checkout. A SQLite file's connection cannot go stale, and there the ping would cost
        # every session a round trip to aiosqlite's thread.
        kwargs |= {"pool_size": pool_size, "max_overflow": pool_size, "pool_pre_ping": True}
    else:
        kwargs |= {"pool_size": pool_size, "max_overflow": 0, "connect_args": SQLITE_CONNECT}
    engine = create_async_engine(target, **kwargs)
    if target.get_backend_name() == "sqlite":
        configure_sqlite(engine.sync_engine)
    return engine


def create_writer_engine(url: str | URL) -> sa.Engine | None:
    """A sync engine of two connections, for a record store's writing and reading threads (None
    for an in-memory SQLite database, which another connection would not see)."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        return None
    ensure_sqlite_dir(url)
    target = sync_url(url)
    kwargs: dict[str, Any] = {
        "pool_size": 2,
        "max_overflow": 0,
        "pool_pre_ping": True,
        "hide_parameters": HIDE_PARAMETERS,
    }
    if target.get_backend_name() == "sqlite":
        # One thread uses each at a time: the writer's (flushes take turns) or the reader's.
        kwargs["connect_args"] = {**SQLITE_CONNECT, "check_same_thread": False}
    engine = sa.create_engine(target, **kwargs)
    if target.get_backend_name() == "sqlite":
        configure_sqlite(engine)
    return engine


def create_sync_engine(url: str | URL, *, echo: bool = False) -> sa.Engine:
    """A sync engine, for migrations and tests."""
    ensure_sqlite_dir(url)
    target = sync_url(url)
    engine = sa.create_engine(
        target, echo=echo, poolclass=sa.NullPool, hide_parameters=HIDE_PARAMETERS
    )
    if target.get_backend_name() == "sqlite":
        configure_sqlite(engine)
    return engine
