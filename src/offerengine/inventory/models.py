"""Flights, the inventory they and the limited ancillaries carry, and the rules that govern it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin


class Flight(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """One operating flight: a carrier's flight number on a local departure date."""

    __tablename__ = "flights"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "carrier", "flight_number", "departure_date"),
        sa.Index(None, "tenant_id", "origin", "destination", "departure_date"),
    )

    carrier: Mapped[str] = mapped_column(sa.String(3))
    flight_number: Mapped[str] = mapped_column(sa.String(5))
    origin: Mapped[str] = mapped_column(sa.String(3))
    destination: Mapped[str] = mapped_column(sa.String(3))
    departure_date: Mapped[date] = mapped_column(sa.Date)  # local, at the origin
    departure_local: Mapped[str] = mapped_column(sa.String(19))  # ISO, no zone: what the board says
    arrival_local: Mapped[str] = mapped_column(sa.String(19))
    departure_at: Mapped[datetime]  # the instant (UTC)
    arrival_at: Mapped[datetime]
    aircraft: Mapped[str | None] = mapped_column(sa.String(50))
    cabins: Mapped[dict[str, Any]]  # cabin → seats
    ancillary_capacity: Mapped[dict[str, Any]] = mapped_column(default=dict)  # product code → units
    status: Mapped[str] = mapped_column(sa.String(20), default="scheduled")
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)


class InventoryBucket(IdMixin, TenantOwnedMixin, Base):
    """Units of one resource in one scope: a flight's cabin, a flight's extra-legroom seats, a
    lounge on one day. ``sold`` and ``held`` only move by conditional updates (see service)."""

    __tablename__ = "inventory"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "scope", "resource_type", "resource"),)

    scope: Mapped[str] = mapped_column(sa.String(80))  # flight:<id> | airport:<IATA>:<date>
    flight_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("flights.id", ondelete="CASCADE"), index=True
    )
    resource_type: Mapped[str] = mapped_column(sa.String(50))  # SEAT (cabins), or a product type
    resource: Mapped[str] = mapped_column(sa.String(60))  # the cabin, or a product code
    capacity: Mapped[int]
    sold: Mapped[int] = mapped_column(default=0)
    held: Mapped[int] = mapped_column(default=0)
    low_notified: Mapped[bool] = mapped_column(default=False)


class InventoryRule(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """Seed 001's inventory rule, per resource type (optionally narrowed to one resource)."""

    __tablename__ = "inventory_rules"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "resource_type", "resource"),)

    resource_type: Mapped[str] = mapped_column(sa.String(50))
    resource: Mapped[str | None] = mapped_column(sa.String(60))
    hold_duration_seconds: Mapped[int] = mapped_column(default=900)
    overbooking_percentage: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal(0))
    min_availability_threshold: Mapped[int] = mapped_column(default=0)
    release_policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
