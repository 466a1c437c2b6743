"""Campaign delivery log and uplift model retraining records (issue 33)

Revision ID: 20261208_0025
Revises: 20261208_0024
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261208_0025"
down_revision: str | None = "20261208_0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WHEN = sa.DateTime(timezone=True)


def _tenant(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    with op.batch_alter_table("campaign_members") as batch:
        batch.add_column(sa.Column("features", JSON, nullable=True))
    op.create_index(
        op.f("ix_campaign_grants_tenant_id_customer_id_status"),
        "campaign_grants",
        ["tenant_id", "customer_id", "status"],
    )
    op.create_table(
        "uplift_model_choices",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("promotion", sa.String(length=50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("chosen_at", WHEN, nullable=False),
        _tenant("uplift_model_choices"),
        sa.PrimaryKeyConstraint("tenant_id", "promotion", name=op.f("pk_uplift_model_choices")),
    )
    op.create_table(
        "campaign_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        _tenant("campaign_deliveries"),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_deliveries_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_deliveries")),
    )
    op.create_index(
        op.f("ix_campaign_deliveries_campaign_id_created_at"),
        "campaign_deliveries",
        ["campaign_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_campaign_deliveries_campaign_id_created_at"), table_name="campaign_deliveries"
    )
    op.drop_table("campaign_deliveries")
    op.drop_table("uplift_model_choices")
    op.drop_index(op.f("ix_campaign_grants_tenant_id_customer_id_status"), "campaign_grants")
    with op.batch_alter_table("campaign_members") as batch:
        batch.drop_column("features")
