"""Loyalty programmes: tiers, members, points ledger (issue 32)

Revision ID: 20261208_0019
Revises: 20261207_0018
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261208_0019"
down_revision: str | None = "20261207_0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _tenant(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "loyalty_programmes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tiers", JSON, nullable=False),
        sa.Column("earn_rules", JSON, nullable=False),
        sa.Column("point_values", JSON, nullable=False),
        sa.Column("expiry_months", sa.Integer(), nullable=True),
        sa.Column("min_redemption", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _tenant("loyalty_programmes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_programmes")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_loyalty_programmes_tenant_id_code")),
    )
    op.create_table(
        "loyalty_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("earned", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _tenant("loyalty_members"),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["loyalty_programmes.id"],
            name=op.f("fk_loyalty_members_programme_id_loyalty_programmes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_members")),
        sa.UniqueConstraint(
            "programme_id", "customer_id", name=op.f("uq_loyalty_members_programme_id_customer_id")
        ),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_loyalty_members_balance_not_negative")),
    )
    op.create_index(
        op.f("ix_loyalty_members_tenant_id_customer_id"),
        "loyalty_members",
        ["tenant_id", "customer_id"],
    )
    op.create_table(
        "loyalty_ledger",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("programme_version", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("detail", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _tenant("loyalty_ledger"),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["loyalty_members.id"],
            name=op.f("fk_loyalty_ledger_member_id_loyalty_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_ledger")),
        sa.UniqueConstraint("member_id", "key", name=op.f("uq_loyalty_ledger_member_id_key")),
    )
    op.create_index(
        op.f("ix_loyalty_ledger_member_id_created_at"),
        "loyalty_ledger",
        ["member_id", "created_at"],
    )
    op.create_index(op.f("ix_loyalty_ledger_expires_at"), "loyalty_ledger", ["expires_at"])
    op.create_index(
        op.f("ix_loyalty_ledger_tenant_id_order_id"), "loyalty_ledger", ["tenant_id", "order_id"]
    )


def downgrade() -> None:
    op.drop_table("loyalty_ledger")
    op.drop_table("loyalty_members")
    op.drop_table("loyalty_programmes")
