"""A stored quote's data is its JSON in an LZ4 frame (``db.base.Compressed``): ~18 KB a quote
became ~5 KB, and writing the other 13 KB was most of what storing a quote cost the database

Revision ID: 20261202_0013
Revises: 20261202_0012
Create Date: 2026-12-02 22:30:00
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import lz4.frame
import sqlalchemy as sa
from alembic import op

revision: str = "20261202_0013"
down_revision: str | None = "20261202_0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE = 500  # quotes read and rewritten at a time, so that a large table is never held whole


def _rewrite(change: Callable[[bytes], bytes]) -> None:
    """Every quote's data through ``change``, a page at a time in id order."""
    connection = op.get_bind()
    quotes = sa.table("quotes", sa.column("id"), sa.column("data", sa.LargeBinary()))
    update = (
        sa.update(quotes)
        .where(quotes.c.id == sa.bindparam("quote_id"))
        .values(data=sa.bindparam("new_data"))
    )
    after = None
    while True:
        page = sa.select(quotes.c.id, quotes.c.data).order_by(quotes.c.id).limit(PAGE)
        if after is not None:
            page = page.where(quotes.c.id > after)
        rows = connection.execute(page).all()
        if not rows:
            return
        connection.execute(
            update, [{"quote_id": id_, "new_data": change(bytes(data))} for id_, data in rows]
        )
        after = rows[-1][0]


def upgrade() -> None:
    _rewrite(lz4.frame.compress)


def downgrade() -> None:
    _rewrite(lz4.frame.decompress)
