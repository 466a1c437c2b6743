"""Promotion campaigns: holdouts, grants as personal coupons, budget reservations (issue 33)

Revision ID: 20261208_0020
Revises: 20261208_0019
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261208_0020"
down_revision: str | None = "20261208_0019"
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


def _campaign(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["campaign_id"],
        ["campaigns.id"],
        name=op.f(f"fk_{table}_campaign_id_campaigns"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("promotions", JSON, nullable=False),
        sa.Column("audience", JSON, nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("budget_minor", sa.BigInteger(), nullable=False),
        sa.Column("min_basket_minor", sa.BigInteger(), nullable=True),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("holdout_share", sa.Float(), nullable=False),
        sa.Column("grant_days", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        _tenant("campaigns"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_campaigns_tenant_id_code")),
    )
    op.create_table(
        "campaign_budgets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("spent", sa.BigInteger(), nullable=False),
        _tenant("campaign_budgets"),
        _campaign("campaign_budgets"),
        sa.PrimaryKeyConstraint("tenant_id", "campaign_id", name=op.f("pk_campaign_budgets")),
    )
    op.create_table(
        "campaign_members",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("arm", sa.String(length=8), nullable=False),
        sa.Column("promotion", sa.String(length=50), nullable=False),
        sa.Column("predicted_uplift", sa.Float(), nullable=False),
        sa.Column("expected_cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=True),
        sa.Column("assigned_at", WHEN, nullable=False),
        _tenant("campaign_members"),
        _campaign("campaign_members"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "campaign_id", "customer_id", name=op.f("pk_campaign_members")
        ),
    )
    op.create_table(
        "campaign_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("promotion", sa.String(length=50), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("discount_minor", sa.BigInteger(), nullable=False),
        sa.Column("min_basket_minor", sa.BigInteger(), nullable=True),
        sa.Column("expected_cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("granted_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("redeemed_at", WHEN, nullable=True),
        sa.Column("quote_id", sa.Uuid(), nullable=True),
        sa.Column("spent_minor", sa.BigInteger(), nullable=True),
        _tenant("campaign_grants"),
        _campaign("campaign_grants"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_grants")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_campaign_grants_tenant_id_code")),
    )
    op.create_index(
        op.f("ix_campaign_grants_tenant_id_status_expires_at"),
        "campaign_grants",
        ["tenant_id", "status", "expires_at"],
    )
    op.create_index(
        op.f("ix_campaign_grants_campaign_id_status"), "campaign_grants", ["campaign_id", "status"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_campaign_grants_campaign_id_status"), table_name="campaign_grants")
    op.drop_index(
        op.f("ix_campaign_grants_tenant_id_status_expires_at"), table_name="campaign_grants"
    )
    op.drop_table("campaign_grants")
    op.drop_table("campaign_members")
    op.drop_table("campaign_budgets")
    op.drop_table("campaigns")
