"""Revenue management: fare family sets (versioned configuration), imported booking histories,
and the forecasts stored per flight and cabin with their families' limits

Revision ID: 20261207_0018
Revises: 20261207_0017
Create Date: 2026-12-07 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261207_0018"
down_revision: str | None = "20261207_0017"
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
        "fare_family_sets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("cabin", sa.String(length=20), nullable=False),
        sa.Column("route", sa.String(length=7), nullable=True),
        sa.Column("families", JSON, nullable=False),
        sa.Column("booking_periods", JSON, nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _tenant("fare_family_sets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fare_family_sets")),
        sa.UniqueConstraint(
            "tenant_id", "cabin", "route", name=op.f("uq_fare_family_sets_tenant_id_cabin_route")
        ),
    )
    op.create_table(
        "revenue_booking_imports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("bookings", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _tenant("revenue_booking_imports"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_booking_imports")),
        sa.UniqueConstraint(
            "tenant_id", "digest", name=op.f("uq_revenue_booking_imports_tenant_id_digest")
        ),
    )
    op.create_table(
        "revenue_bookings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("flight", sa.String(length=8), nullable=False),
        sa.Column("departure_date", sa.Date(), nullable=False),
        sa.Column("origin", sa.String(length=3), nullable=False),
        sa.Column("destination", sa.String(length=3), nullable=False),
        sa.Column("cabin", sa.String(length=20), nullable=False),
        sa.Column("fare_family", sa.String(length=20), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        _tenant("revenue_bookings"),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["revenue_booking_imports.id"],
            name=op.f("fk_revenue_bookings_import_id_revenue_booking_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_bookings")),
    )
    op.create_index(
        op.f("ix_revenue_bookings_import_id"), "revenue_bookings", ["import_id"], unique=False
    )
    op.create_index(
        op.f("ix_revenue_bookings_tenant_id_origin_destination_cabin"),
        "revenue_bookings",
        ["tenant_id", "origin", "destination", "cabin"],
        unique=False,
    )
    op.create_table(
        "revenue_forecasts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("flight_id", sa.Uuid(), nullable=False),
        sa.Column("cabin", sa.String(length=20), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("seats_left", sa.Integer(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("bid_price_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("inputs_version", sa.String(length=64), nullable=False),
        sa.Column("config_id", sa.Uuid(), nullable=True),
        sa.Column("config_version", sa.Integer(), nullable=True),
        sa.Column("history_departures", sa.Integer(), nullable=False),
        sa.Column("held_out", sa.Integer(), nullable=True),
        sa.Column("mape", sa.Float(), nullable=True),
        sa.Column("bias", sa.Float(), nullable=True),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        _tenant("revenue_forecasts"),
        sa.ForeignKeyConstraint(
            ["flight_id"],
            ["flights.id"],
            name=op.f("fk_revenue_forecasts_flight_id_flights"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_forecasts")),
        sa.UniqueConstraint(
            "flight_id", "cabin", name=op.f("uq_revenue_forecasts_flight_id_cabin")
        ),
    )
    op.create_table(
        "revenue_forecast_families",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("forecast_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("multiplier", sa.Numeric(precision=8, scale=4), nullable=False),
        sa.Column("fare_minor", sa.BigInteger(), nullable=True),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("demand_mean", sa.Float(), nullable=False),
        sa.Column("demand_sd", sa.Float(), nullable=False),
        sa.Column("protection", sa.Float(), nullable=False),
        sa.Column("booking_limit", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["forecast_id"],
            ["revenue_forecasts.id"],
            name=op.f("fk_revenue_forecast_families_forecast_id_revenue_forecasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_forecast_families")),
        sa.UniqueConstraint(
            "forecast_id", "code", name=op.f("uq_revenue_forecast_families_forecast_id_code")
        ),
    )


def downgrade() -> None:
    op.drop_table("revenue_forecast_families")
    op.drop_table("revenue_forecasts")
    op.drop_index(
        op.f("ix_revenue_bookings_tenant_id_origin_destination_cabin"),
        table_name="revenue_bookings",
    )
    op.drop_index(op.f("ix_revenue_bookings_import_id"), table_name="revenue_bookings")
    op.drop_table("revenue_bookings")
    op.drop_table("revenue_booking_imports")
    op.drop_table("fare_family_sets")
