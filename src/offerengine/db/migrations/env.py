"""Alembic environment: migrations run on a connection given by ``offerengine.db.migrate``, or on
``OFFERENGINE_DATABASE_URL`` when alembic's own command line is used (to write new revisions)."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext

from offerengine.db.base import UTCDateTime
from offerengine.db.engine import create_sync_engine
from offerengine.db.models import metadata
from offerengine.settings import DatabaseSettings

cfg = context.config


def run() -> None:
    connection = cfg.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = cfg.attributes.get("database_url") or DatabaseSettings().database_url
    engine = create_sync_engine(url)
    try:
        with engine.begin() as conn:
            _migrate(conn)
    finally:
        engine.dispose()


def _render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations stay self-contained: our column types are written as the plain types they are.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(obj, sa.JSON):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


def _migrate(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
