"""Learned price points: price-point policies and their logged choices (issue 31)

Revision ID: 20261208_0026
Revises: 20261208_0025
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261208_0026"
down_revision: str | None = "20261208_0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "price_point_policies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("cabin", sa.String(length=20), nullable=False),
        sa.Column("route", sa.String(length=7), nullable=True),
        sa.Column("multipliers", JSON, nullable=False),
        sa.Column("max_step", sa.Numeric(8, 4), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_price_point_policies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_point_policies")),
        sa.UniqueConstraint(
            "tenant_id",
            "cabin",
            "route",
            name=op.f("uq_price_point_policies_tenant_id_cabin_route"),
        ),
    )


def downgrade() -> None:
    op.drop_table("price_point_policies")
