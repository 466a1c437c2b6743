"""Grants redeemed by airline orders (issue 33)

A campaign's grant applied by a shop's offer is redeemed by the order made from it: the grant
keeps the order's id (to give it back when the order is cancelled or expires), found by
tenant and order. A campaign delivery sends only what it has not sent on its channel yet: each
selection sent is kept (``campaign_delivered``), by campaign, channel and grant.

Revision ID: 20261208_0028
Revises: 20261208_0027
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261208_0028"
down_revision: str | None = "20261208_0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_campaign_grants_tenant_id_order_id"), ["tenant_id", "order_id"]
        )
    op.create_table(
        "campaign_delivered",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_campaign_delivered_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_delivered_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "campaign_id", "channel", "grant_id", name=op.f("pk_campaign_delivered")
        ),
    )
    op.create_index(
        op.f("ix_campaign_delivered_delivery_id"), "campaign_delivered", ["delivery_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_campaign_delivered_delivery_id"), table_name="campaign_delivered")
    op.drop_table("campaign_delivered")
    with op.batch_alter_table("campaign_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_grants_tenant_id_order_id"))
        batch_op.drop_column("order_id")
