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

from offerengine.db.engine import create_sync_engine

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
