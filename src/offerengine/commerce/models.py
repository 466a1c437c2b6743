"""Commerce storage: the three versioned configuration types, coupon usage, and stored quotes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, Compressed, IdMixin, JSONAny, TenantOwnedMixin, TimestampMixin


class _Configured(IdMixin, TenantOwnedMixin, TimestampMixin):
    """A configuration object whose full state is its ``body`` (the validated input, decimals as
    strings: exact); a few fields are mirrored into columns to filter lists by."""

    body: Mapped[dict[str, Any]] = mapped_column(JSONAny)
    is_active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)


class CommissionRate(_Configured, Base):
    __tablename__ = "commission_rates"
    __table_args__ = (
        sa.Index(None, "tenant_id", "component"),
        sa.Index(None, "tenant_id", "id"),  # a page of the list: by id within the tenant
    )

    component: Mapped[str] = mapped_column(sa.String(20))
    category: Mapped[str | None] = mapped_column(sa.String(100))
    seller_id: Mapped[str | None] = mapped_column(sa.String(100))
    logistics_provider: Mapped[str | None] = mapped_column(sa.String(100))
    region: Mapped[str | None] = mapped_column(sa.String(100))

    __mapper_args__ = {"version_id_col": _Configured.version, "version_id_generator": False}


class FeeRule(_Configured, Base):
    __tablename__ = "fee_rules"
    __table_args__ = (sa.Index(None, "tenant_id", "name"), sa.Index(None, "tenant_id", "id"))

    name: Mapped[str] = mapped_column(sa.String(200))
    type: Mapped[str] = mapped_column(sa.String(30))
    region: Mapped[str | None] = mapped_column(sa.String(100))

    __mapper_args__ = {"version_id_col": _Configured.version, "version_id_generator": False}


class Coupon(_Configured, Base):
    __tablename__ = "coupons"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(sa.String(40))

    __mapper_args__ = {"version_id_col": _Configured.version, "version_id_generator": False}


class CouponUsage(TenantOwnedMixin, Base):
    """How many accepted quotes used a coupon: in all (``customer_id`` '') and per customer."""

    __tablename__ = "coupon_usage"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "coupon_id", "customer_id"),)

    coupon_id: Mapped[uuid.UUID] = mapped_column()
    customer_id: Mapped[str] = mapped_column(sa.String(200))
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class StoredQuote(TenantOwnedMixin, Base):
    """A quote as it was answered (``data``), with its totals in minor units for analytics.

    Written behind the response in batches; its id begins with its creation time."""

    __tablename__ = "quotes"
    # No index by request_hash: nothing reads quotes by it (migration 20261203_0014).
    __table_args__ = (sa.Index(None, "tenant_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    valid_until: Mapped[datetime]
    status: Mapped[str] = mapped_column(sa.String(12))  # QUOTED ACCEPTED
    accepted_at: Mapped[datetime | None]
    day: Mapped[str] = mapped_column(sa.String(10))  # the tenant's local date
    customer_id: Mapped[str | None] = mapped_column(sa.String(200))
    seller_id: Mapped[str | None] = mapped_column(sa.String(100))
    city: Mapped[str] = mapped_column(sa.String(100))
    country: Mapped[str] = mapped_column(sa.String(100))
    currency: Mapped[str] = mapped_column(sa.String(3))
    item_total: Mapped[int] = mapped_column(sa.BigInteger)
    discount: Mapped[int] = mapped_column(sa.BigInteger)
    tax: Mapped[int] = mapped_column(sa.BigInteger)
    delivery_fee: Mapped[int] = mapped_column(sa.BigInteger)
    small_basket_fee: Mapped[int] = mapped_column(sa.BigInteger)
    total: Mapped[int] = mapped_column(sa.BigInteger)
    commission: Mapped[int] = mapped_column(sa.BigInteger)
    coupons: Mapped[list[Any]] = mapped_column(JSONAny)  # [{coupon_id, code}] applied
    data: Mapped[bytes] = mapped_column(Compressed)  # the answer's data: its JSON, as encoded


class QuoteLine(TenantOwnedMixin, Base):
    """A quote's items summed by category, seller and logistics provider (analytics).

    The record store inserts them as tuples in the order of these columns (``db.rows.insert_tuples``)."""

    __tablename__ = "quote_lines"
    __table_args__ = (sa.PrimaryKeyConstraint("quote_id", "n"),)

    quote_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("quotes.id", ondelete="CASCADE"))
    n: Mapped[int] = mapped_column()
    category: Mapped[str | None] = mapped_column(sa.String(100))
    seller_id: Mapped[str | None] = mapped_column(sa.String(100))
    logistics_provider: Mapped[str | None] = mapped_column(sa.String(100))
    units: Mapped[int] = mapped_column(sa.BigInteger)
    value: Mapped[int] = mapped_column(sa.BigInteger)
    net: Mapped[int] = mapped_column(sa.BigInteger)
    tax: Mapped[int] = mapped_column(sa.BigInteger)
    seller_commission: Mapped[int] = mapped_column(sa.BigInteger)
    category_commission: Mapped[int] = mapped_column(sa.BigInteger)
    logistics_commission: Mapped[int] = mapped_column(sa.BigInteger)
