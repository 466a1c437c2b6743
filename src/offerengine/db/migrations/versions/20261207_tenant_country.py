"""Tenants: the country they are based in (seed 001's airlines' ISO 3166 alpha-2 `country`)

Revision ID: 20261207_0017
Revises: 20261207_0016
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_0017"
down_revision: str | None = "20261207_0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("country", sa.String(length=2), nullable=True))


def downgrade() -> None:
    # Not in batch mode: on SQLite that copies the table, and dropping the old tenants table
    # would cascade to every row that refers to it. SQLite (3.35+) drops a column in place.
    op.drop_column("tenants", "country")
