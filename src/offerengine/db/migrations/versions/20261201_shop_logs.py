"""Decision logs name offer types too (shop's conversion model): offer_id up to 60 characters

Revision ID: 20261201_0010
Revises: 20261201_0009
Create Date: 2026-12-01 17:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_0010"
down_revision: str | None = "20261201_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decision_logs", schema=None) as batch_op:
        batch_op.alter_column(
            "offer_id", existing_type=sa.String(length=40), type_=sa.String(length=60)
        )
        batch_op.alter_column(
            "shadow", existing_type=sa.String(length=40), type_=sa.String(length=60)
        )


def downgrade() -> None:
    with op.batch_alter_table("decision_logs", schema=None) as batch_op:
        batch_op.alter_column(
            "shadow", existing_type=sa.String(length=60), type_=sa.String(length=40)
        )
        batch_op.alter_column(
            "offer_id", existing_type=sa.String(length=60), type_=sa.String(length=40)
        )
