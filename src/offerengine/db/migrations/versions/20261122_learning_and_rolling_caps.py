"""Feedback counts per offer and placement (model ranking), events of rolling caps

Revision ID: 20261122_0006
Revises: 20261122_0005
Create Date: 2026-11-22 14:18:02.806646
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261122_0006"
down_revision: str | None = "20261122_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decision_cap_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("cap_key", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_decision_cap_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_cap_events")),
    )
    with op.batch_alter_table("decision_cap_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_decision_cap_events_tenant_id_offer_id_cap_key_subject_at"),
            ["tenant_id", "offer_id", "cap_key", "subject", "at"],
            unique=False,
        )

    op.create_table(
        "decision_stats",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("placement_id", sa.String(length=36), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("accepts", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_decision_stats_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "offer_id", "placement_id", name=op.f("pk_decision_stats")
        ),
    )


def downgrade() -> None:
    op.drop_table("decision_stats")
    with op.batch_alter_table("decision_cap_events", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_decision_cap_events_tenant_id_offer_id_cap_key_subject_at")
        )

    op.drop_table("decision_cap_events")
