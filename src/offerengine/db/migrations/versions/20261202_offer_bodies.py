"""Offers share their bodies: an identical search reuses a ranked result, and its offers now
point at one stored body instead of each storing the whole offer

Revision ID: 20261202_0011
Revises: 20261201_0010
Create Date: 2026-12-02 00:10:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261202_0011"
down_revision: str | None = "20261201_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWN = ("offer_id", "search_id", "created_at", "expires_at", "experiments")
offers = sa.table(
    "offers",
    sa.column("id", sa.String),
    sa.column("tenant_id", sa.Uuid),
    sa.column("body_json", sa.Text),
    sa.column("basis_json", sa.Text),
    sa.column("body_id", sa.String),
    sa.column("experiments_json", sa.Text),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)
bodies = sa.table(
    "offer_bodies",
    sa.column("id", sa.String),
    sa.column("tenant_id", sa.Uuid),
    sa.column("members_json", sa.Text),
    sa.column("basis_json", sa.Text),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "offer_bodies",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("members_json", sa.Text(), nullable=False),
        sa.Column("basis_json", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_offer_bodies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_bodies")),
    )
    with op.batch_alter_table("offer_bodies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_offer_bodies_expires_at"), ["expires_at"], unique=False
        )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("experiments_json", sa.Text(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            offers.c.id,
            offers.c.tenant_id,
            offers.c.body_json,
            offers.c.basis_json,
            offers.c.expires_at,
        )
    ).all()
    made, pointed = [], []
    for row in rows:  # each offer becomes its own body
        body = json.loads(row.body_json)
        members = json.dumps({k: v for k, v in body.items() if k not in OWN}, separators=(",", ":"))
        made.append(
            {
                "id": row.id,
                "tenant_id": row.tenant_id,
                "members_json": members[1:-1],
                "basis_json": row.basis_json,
                "expires_at": row.expires_at,
            }
        )
        pointed.append({"key": row.id, "experiments": json.dumps(body.get("experiments", []))})
    for start in range(0, len(made), 1000):
        connection.execute(bodies.insert(), made[start : start + 1000])
        connection.execute(
            offers.update()
            .where(offers.c.id == sa.bindparam("key"))
            .values(body_id=sa.bindparam("key"), experiments_json=sa.bindparam("experiments")),
            pointed[start : start + 1000],
        )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.alter_column("body_id", existing_type=sa.String(length=40), nullable=False)
        batch_op.alter_column("experiments_json", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("body_json")
        batch_op.drop_column("basis_json")


def downgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_json", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("basis_json", sa.Text(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT o.id, o.search_id, o.created_at, o.expires_at, o.experiments_json, "
            "b.members_json, b.basis_json FROM offers o JOIN offer_bodies b ON b.id = o.body_id"
        )
    ).all()
    for row in rows:
        body = json.loads("{" + row.members_json + "}")
        body.update(
            offer_id=row.id,
            search_id=row.search_id,
            created_at=str(row.created_at),
            expires_at=str(row.expires_at),
            experiments=json.loads(row.experiments_json),
        )
        connection.execute(
            offers.update()
            .where(offers.c.id == row.id)
            .values(body_json=json.dumps(body), basis_json=row.basis_json)
        )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.alter_column("body_json", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("basis_json", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("experiments_json")
        batch_op.drop_column("body_id")
    with op.batch_alter_table("offer_bodies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_bodies_expires_at"))
    op.drop_table("offer_bodies")
