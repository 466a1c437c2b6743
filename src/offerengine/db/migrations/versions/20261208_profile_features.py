"""Profile features from behaviour: windowed aggregates kept incrementally (issue 33)

Revision ID: 20261208_0021
Revises: 20261208_0020
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261208_0021"
down_revision: str | None = "20261208_0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The day buckets and all-time sums of offerengine.profiles.features; existing profiles start
    # empty (`offerengine profiles rebuild-features` fills them from their stored events).
    op.add_column(
        "profiles",
        sa.Column(
            "features",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
            server_default="{}",
        ),
    )


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place, as the tenants' country does.
    op.drop_column("profiles", "features")
