"""A stored quote's data is the answer's JSON as bytes (BLOB, bytea), stored as encoded: as text
it was decoded at every quote and encoded again by the driver (~17 µs a 17 KB quote here)

Revision ID: 20261202_0012
Revises: 20261202_0011
Create Date: 2026-12-02 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "20261202_0012"
down_revision: str | None = "20261202_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _change(old: sa.types.TypeEngine[Any], new: sa.types.TypeEngine[Any], using: str) -> None:
    """``quotes.data`` from ``old`` to ``new``: on PostgreSQL ``USING using(data, 'UTF8')``; on
    SQLite, which keeps each value's own type, every value cast to the new column's type too."""
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "quotes",
            "data",
            existing_type=old,
            type_=new,
            existing_nullable=False,
            postgresql_using=f"{using}(data, 'UTF8')",
        )
        return
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.alter_column("data", existing_type=old, type_=new, existing_nullable=False)
    quotes = sa.table("quotes", sa.column("data"))
    kind = "blob" if isinstance(new, sa.LargeBinary) else "text"
    data = quotes.c.data
    op.execute(
        sa.update(quotes).values(data=sa.cast(data, new)).where(sa.func.typeof(data) != kind)
    )


def upgrade() -> None:
    _change(sa.Text(), sa.LargeBinary(), "convert_to")


def downgrade() -> None:
    _change(sa.LargeBinary(), sa.Text(), "convert_from")
