"""Partner products and template sets (issue 32)

A catalog product can name the partner that supplies it (a hotel chain, a car hire firm, an
insurer) and the unit its price is per: the trip, a night, a day or a passenger. Template sets
themselves ship with the code (``offerengine.starters``) and need no table.

Revision ID: 20261208_0027
Revises: 20261208_0026
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261208_0027"
down_revision: str | None = "20261208_0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_code", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("partner_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("pricing_unit", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("pricing_unit")
        batch_op.drop_column("partner_name")
        batch_op.drop_column("partner_code")
