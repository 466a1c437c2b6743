"""Offers are stored a search at a time and share their bodies: a search's row holds what is
each offer's own (offer ids are the row's id and the offer's place), and an identical search that
reuses a ranked result points at the same stored bodies; shown offers per day are counted for
the dashboards (the offers themselves are kept only a day past their expiry)

Revision ID: 20261202_0011
Revises: 20261201_0010
Create Date: 2026-12-02 00:10:00
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "20261202_0011"
down_revision: str | None = "20261201_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWN = ("offer_id", "search_id", "created_at", "expires_at", "experiments")
KEY_DIGITS = 30
STAMP = sa.DateTime(timezone=True)


def _table(name: str, *columns: sa.Column[Any]) -> sa.Table:
    return sa.Table(name, sa.MetaData(), *columns)


def _offers() -> sa.Table:
    return _table(
        "offers",
        sa.Column("id", sa.String(40)),
        sa.Column("tenant_id", sa.Uuid),
        sa.Column("search_id", sa.String(40)),
        sa.Column("offer_type", sa.String(50)),
        sa.Column("segment", sa.String(50)),
        sa.Column("flight_id", sa.Uuid),
        sa.Column("total_minor", sa.BigInteger),
        sa.Column("currency", sa.String(3)),
        sa.Column("body_json", sa.Text),
        sa.Column("basis_json", sa.Text),
        sa.Column("created_at", STAMP),
        sa.Column("expires_at", STAMP),
    )


def _bodies() -> sa.Table:
    return _table(
        "offer_bodies",
        sa.Column("id", sa.String(40)),
        sa.Column("tenant_id", sa.Uuid),
        sa.Column("members_json", sa.Text),
        sa.Column("basis_json", sa.Text),
        sa.Column("expires_at", STAMP),
    )


def _searches() -> sa.Table:
    return _table(
        "shop_searches",
        sa.Column("id", sa.String(40)),
        sa.Column("tenant_id", sa.Uuid),
        sa.Column("search_id", sa.String(40)),
        sa.Column("segment", sa.String(50)),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("currency", sa.String(3)),
        sa.Column("experiments_json", sa.Text),
        sa.Column("offers_json", sa.Text),
        sa.Column("created_at", STAMP),
        sa.Column("expires_at", STAMP),
    )


def _days() -> sa.Table:
    return _table(
        "offer_days",
        sa.Column("tenant_id", sa.Uuid),
        sa.Column("day", sa.Date),
        sa.Column("offer_type", sa.String(50)),
        sa.Column("shown", sa.BigInteger),
    )


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
    op.create_table(
        "shop_searches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("search_id", sa.String(length=40), nullable=False),
        sa.Column("segment", sa.String(length=50), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("experiments_json", sa.Text(), nullable=False),
        sa.Column("offers_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_shop_searches_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_searches")),
    )
    with op.batch_alter_table("shop_searches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shop_searches_expires_at"), ["expires_at"], unique=False
        )
    op.create_table(
        "offer_days",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("offer_type", sa.String(length=50), nullable=False),
        sa.Column("shown", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_offer_days_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "day", "offer_type", name=op.f("pk_offer_days")),
    )
    _move_offers_up()
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offers_expires_at"))
        batch_op.drop_index(batch_op.f("ix_offers_search_id"))
    op.drop_table("offers")


def _move_offers_up() -> None:
    """Each stored offer becomes a search row of its own (its id, a row's id and a place, stays
    what it was) pointing at a body of its own; the days count what is stored."""
    connection = op.get_bind()
    offers, bodies, searches, days = _offers(), _bodies(), _searches(), _days()
    made_bodies: list[dict[str, object]] = []
    made_searches: list[dict[str, object]] = []
    counted: Counter[tuple[object, object, str]] = Counter()
    for row in connection.execute(sa.select(offers)).mappings():
        body = json.loads(row["body_json"])
        basis = json.loads(row["basis_json"])
        customer = (basis.get("search") or {}).get("customer") or {}
        members = json.dumps({k: v for k, v in body.items() if k not in OWN}, separators=(",", ":"))
        expires = _aware(row["expires_at"])
        made_bodies.append(
            {
                "id": row["id"],
                "tenant_id": row["tenant_id"],
                "members_json": members[1:-1],
                "basis_json": row["basis_json"],
                "expires_at": expires,
            }
        )
        own = {
            "offer_type": row["offer_type"],
            "flight_id": str(row["flight_id"]),
            "total_minor": row["total_minor"],
            "body_id": row["id"],
            "expires_at": body.get("expires_at") or expires.isoformat(),
        }
        made_searches.append(
            {
                "id": row["id"][:KEY_DIGITS],
                "tenant_id": row["tenant_id"],
                "search_id": row["search_id"],
                "segment": row["segment"],
                "customer_id": customer.get("id"),
                "currency": row["currency"],
                "experiments_json": json.dumps(body.get("experiments", [])),
                "offers_json": json.dumps({row["id"][KEY_DIGITS:]: own}),
                "created_at": _aware(row["created_at"]),
                "expires_at": expires,
            }
        )
        counted[(row["tenant_id"], _aware(row["created_at"]).date(), row["offer_type"])] += 1
    for start in range(0, len(made_bodies), 1000):
        connection.execute(bodies.insert(), made_bodies[start : start + 1000])
        connection.execute(searches.insert(), made_searches[start : start + 1000])
    if counted:
        connection.execute(
            days.insert(),
            [
                {"tenant_id": t, "day": d, "offer_type": k, "shown": n}
                for (t, d, k), n in counted.items()
            ],
        )


def downgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("search_id", sa.String(length=40), nullable=False),
        sa.Column("offer_type", sa.String(length=50), nullable=False),
        sa.Column("segment", sa.String(length=50), nullable=False),
        sa.Column("flight_id", sa.Uuid(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("body_json", sa.Text(), nullable=False),
        sa.Column("basis_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_offers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offers_search_id"), ["search_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_offers_expires_at"), ["expires_at"], unique=False)
    connection = op.get_bind()
    bodies = {r.id: r for r in connection.execute(sa.select(_bodies()))}
    made: list[dict[str, object]] = []
    for search in connection.execute(sa.select(_searches())).mappings():
        created_at = _aware(search["created_at"])
        for place, own in json.loads(search["offers_json"]).items():
            stored = bodies.get(own["body_id"])
            if stored is None:
                continue
            offer_id = search["id"] + place
            body = json.loads("{" + stored.members_json + "}")
            body.update(
                offer_id=offer_id,
                search_id=search["search_id"],
                created_at=created_at.isoformat(),
                expires_at=own["expires_at"],
                experiments=json.loads(search["experiments_json"]),
            )
            basis = json.loads(stored.basis_json)
            if search["customer_id"] is not None:
                customer = basis["search"].get("customer") or {}
                basis["search"]["customer"] = {**customer, "id": search["customer_id"]}
            made.append(
                {
                    "id": offer_id,
                    "tenant_id": search["tenant_id"],
                    "search_id": search["search_id"],
                    "offer_type": own["offer_type"],
                    "segment": search["segment"],
                    "flight_id": uuid.UUID(own["flight_id"]),
                    "total_minor": own["total_minor"],
                    "currency": search["currency"],
                    "body_json": json.dumps(body),
                    "basis_json": json.dumps(basis),
                    "created_at": created_at,
                    "expires_at": datetime.fromisoformat(own["expires_at"]),
                }
            )
    offers = _offers()
    for start in range(0, len(made), 1000):
        connection.execute(offers.insert(), made[start : start + 1000])
    op.drop_table("offer_days")
    with op.batch_alter_table("shop_searches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_searches_expires_at"))
    op.drop_table("shop_searches")
    with op.batch_alter_table("offer_bodies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_bodies_expires_at"))
    op.drop_table("offer_bodies")
