"""A stored quote's data is the answer's JSON as bytes (BLOB, bytea), stored as encoded: as text
it was decoded at every quote and encoded again by the driver (~17 µs a 17 KB quote here)

Revision ID: 20261202_0012
Revises: 20261202_0011
Create Date: 2026-12-02 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261202_0012"
down_revision: str | None = "20261202_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "quotes",
            "data",
            existing_type=sa.Text(),
            type_=sa.LargeBinary(),
            existing_nullable=False,
            postgresql_using="convert_to(data, 'UTF8')",
        )
        return
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.alter_column(
            "data", existing_type=sa.Text(), type_=sa.LargeBinary(), existing_nullable=False
        )
    # SQLite keeps each value's own type: quotes stored as text become bytes.
    op.execute("UPDATE quotes SET data = CAST(data AS BLOB) WHERE typeof(data) = 'text'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "quotes",
            "data",
            existing_type=sa.LargeBinary(),
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using="convert_from(data, 'UTF8')",
        )
        return
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.alter_column(
            "data", existing_type=sa.LargeBinary(), type_=sa.Text(), existing_nullable=False
        )
    op.execute("UPDATE quotes SET data = CAST(data AS TEXT) WHERE typeof(data) = 'blob'")
