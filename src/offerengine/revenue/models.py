"""Revenue management's tables: fare family sets (versioned configuration), imported booking
histories, and the forecasts stored per flight and cabin with their families' limits."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, JSONAny, TenantOwnedMixin, TimestampMixin, utcnow


class FareFamilySet(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A cabin's nested fare families, highest first, on one route or (``route`` None) on every
    route without a set of its own."""

    __tablename__ = "fare_family_sets"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "cabin", "route"),)

    cabin: Mapped[str] = mapped_column(sa.String(20))
    route: Mapped[str | None] = mapped_column(sa.String(7))  # "JFK-LHR"; None: every route
    families: Mapped[list[Any]] = mapped_column(
        JSONAny
    )  # [{code, name, multiplier}], highest first
    booking_periods: Mapped[list[Any]] = mapped_column(JSONAny)  # days before departure, descending
    is_active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class BookingImport(IdMixin, TenantOwnedMixin, Base):
    """One imported history file, known by its content's SHA-256 (imported once)."""

    __tablename__ = "revenue_booking_imports"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "digest"),)

    digest: Mapped[str] = mapped_column(sa.String(64))
    filename: Mapped[str] = mapped_column(sa.String(200))
    rows: Mapped[int]
    bookings: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportedBooking(IdMixin, TenantOwnedMixin, Base):
    """Bookings of one past departure's cabin and fare family made a number of days before it,
    and whether the family was closed then (its bookings a lower bound of demand)."""

    __tablename__ = "revenue_bookings"
    __table_args__ = (sa.Index(None, "tenant_id", "origin", "destination", "cabin"),)

    import_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("revenue_booking_imports.id", ondelete="CASCADE"), index=True
    )
    flight: Mapped[str] = mapped_column(sa.String(8))  # carrier and number, e.g. OE100
    departure_date: Mapped[date] = mapped_column(sa.Date)
    origin: Mapped[str] = mapped_column(sa.String(3))
    destination: Mapped[str] = mapped_column(sa.String(3))
    cabin: Mapped[str] = mapped_column(sa.String(20))
    fare_family: Mapped[str] = mapped_column(sa.String(20))
    days_before: Mapped[int]
    count: Mapped[int]
    closed: Mapped[bool]


class RevenueForecast(IdMixin, TenantOwnedMixin, Base):
    """The latest forecast of one flight's cabin: its seats, bid price and where it came from."""

    __tablename__ = "revenue_forecasts"
    __table_args__ = (sa.UniqueConstraint("flight_id", "cabin"),)

    flight_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("flights.id", ondelete="CASCADE"))
    cabin: Mapped[str] = mapped_column(sa.String(20))
    capacity: Mapped[int]
    seats_left: Mapped[int]
    days_before: Mapped[int]  # when it was made
    bid_price_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    inputs_version: Mapped[str] = mapped_column(sa.String(64))  # history and configuration hash
    config_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)  # the fare family set
    config_version: Mapped[int | None]
    history_departures: Mapped[int]
    held_out: Mapped[int | None]
    mape: Mapped[float | None] = mapped_column(sa.Float)
    bias: Mapped[float | None] = mapped_column(sa.Float)
    fitted_at: Mapped[datetime]


class RevenueForecastFamily(IdMixin, Base):
    """One fare family of a stored forecast: its fare, seats booked, the demand still to come,
    the seats protected for the families above it and how many more it may sell."""

    __tablename__ = "revenue_forecast_families"
    __table_args__ = (sa.UniqueConstraint("forecast_id", "code"),)

    forecast_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("revenue_forecasts.id", ondelete="CASCADE")
    )
    position: Mapped[int]  # 0: the highest
    code: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(100))
    multiplier: Mapped[Decimal] = mapped_column(sa.Numeric(8, 4))
    fare_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    booked: Mapped[int]
    demand_mean: Mapped[float] = mapped_column(sa.Float)  # still to come
    demand_sd: Mapped[float] = mapped_column(sa.Float)
    protection: Mapped[float] = mapped_column(sa.Float)  # seats kept for the families above
    booking_limit: Mapped[int]  # seats it may still sell, nested


class PricePointPolicy(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A cabin's learned-price policy on one route or (``route`` None) on every route without a
    policy of its own: the allowed multipliers of the rules' price, the largest step between two
    successive choices, how the bandit explores, and whether it serves (``live``) or only logs
    what it would choose (``shadow``)."""

    __tablename__ = "price_point_policies"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "cabin", "route"),)

    cabin: Mapped[str] = mapped_column(sa.String(20))
    route: Mapped[str | None] = mapped_column(sa.String(7))  # "JFK-LHR"; None: every route
    multipliers: Mapped[list[Any]] = mapped_column(JSONAny)  # decimal strings, ascending
    max_step: Mapped[Decimal] = mapped_column(sa.Numeric(8, 4))
    epsilon: Mapped[float] = mapped_column(sa.Float)
    mode: Mapped[str] = mapped_column(sa.String(10))  # shadow | live
    is_active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
