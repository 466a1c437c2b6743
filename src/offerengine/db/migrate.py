"""Alembic, driven from code: ``offerengine migrate`` and the tests call these."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from offerengine.db.engine import create_sync_engine

CONNECT_TIMEOUT_SECONDS = 5  # how long `revision_at` waits for a PostgreSQL server

MIGRATIONS = Path(__file__).parent / "migrations"


def config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Revisions are named by date and slug: 20261122_foundation.py
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    if url is not None:
        cfg.attributes["database_url"] = url
    return cfg


def _run(url: str, step: Callable[[Config, str], None], revision: str) -> None:
    engine = create_sync_engine(url)
    try:
        with engine.begin() as connection:
            cfg = config(url)
            cfg.attributes["connection"] = connection
            step(cfg, revision)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    _run(url, command.upgrade, revision)


def downgrade(url: str, revision: str) -> None:
    """Back to ``revision`` (for tests of a migration's way back)."""
    _run(url, command.downgrade, revision)


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(config()).get_current_head()


def current_revision(connection: sa.Connection) -> str | None:
    """The revision a database is at (None when it was never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


class NoDatabase(Exception):
    """No database where a URL points: a SQLite file that does not exist, or a server that
    does not answer. ``where`` is the place looked at (an absolute path, or the redacted URL)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def revision_at(url: str) -> str | None:
    """The revision of the database at ``url`` (None when it was never migrated), looked up
    without creating anything: a SQLite file that does not exist, or a server that does not
    answer, is :class:`NoDatabase`."""
    parsed = make_url(url)
    target = url
    if is_sqlite_file(url):
        if not Path(str(parsed.database)).expanduser().is_file():
            raise NoDatabase(describe(url), "no such file")
    elif parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        target = parsed.update_query_dict(
            {"connect_timeout": str(CONNECT_TIMEOUT_SECONDS)}
        ).render_as_string(hide_password=False)
    engine = create_sync_engine(target)
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    except sa.exc.DBAPIError as exc:  # no server, no such database, not a database file …
        message = str(exc.orig if exc.orig is not None else exc).strip()
        raise NoDatabase(describe(url), message.splitlines()[0] if message else "error") from exc
    finally:
        engine.dispose()


def describe(url: str) -> str:
    """Where ``url`` points, for a person: a SQLite file's absolute path, else the URL with
    its password hidden."""
    if is_sqlite_file(url):
        return str(Path(str(make_url(url).database)).expanduser().resolve())
    return redacted(url)


def redacted(url: str) -> str:
    """``url`` with its password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def is_relative(url: str) -> bool:
    """Whether ``url`` is a SQLite file named relative to the current folder."""
    return is_sqlite_file(url) and not Path(str(make_url(url).database)).expanduser().is_absolute()


def is_sqlite_file(url: str) -> bool:
    """Whether ``url`` names a SQLite file (not an in-memory database)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
