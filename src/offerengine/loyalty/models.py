"""Loyalty's tables: programmes (versioned configuration: tiers, earn rules, point values,
expiry), members (one per customer id and programme, with the points balance) and the
append-only ledger of every change to a balance.

The balance is the sum of the ``remaining`` points of the member's lots (the ledger entries that
added points: earn, a positive adjust, a refund); a CHECK keeps it from ever going negative, and
every change of it is one conditional ``UPDATE … RETURNING`` (see :mod:`offerengine.loyalty.points`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, JSONAny, TenantOwnedMixin, TimestampMixin, utcnow


class LoyaltyProgramme(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A tenant's loyalty programme: its tiers and their benefits, how points are earned, what a
    point is worth in each currency, and when earned points expire."""

    __tablename__ = "loyalty_programmes"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(100))
    currency: Mapped[str] = mapped_column(sa.String(3))  # the currency points are earned per
    tiers: Mapped[list[Any]] = mapped_column(JSONAny)  # [{code, name, benefits}], lowest first
    earn_rules: Mapped[list[Any]] = mapped_column(JSONAny)  # [{points_per_unit, fare_family …}]
    point_values: Mapped[list[Any]] = mapped_column(JSONAny)  # [{currency, value}] per point
    expiry_months: Mapped[int | None]
    min_redemption: Mapped[int] = mapped_column(default=1)
    is_active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class LoyaltyMember(IdMixin, TenantOwnedMixin, Base):
    """One customer in one programme: the tier, the points balance and what was ever earned."""

    __tablename__ = "loyalty_members"
    __table_args__ = (
        sa.UniqueConstraint("programme_id", "customer_id"),
        sa.CheckConstraint("balance >= 0", name="balance_not_negative"),
        sa.Index(None, "tenant_id", "customer_id"),
    )

    programme_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("loyalty_programmes.id", ondelete="CASCADE")
    )
    customer_id: Mapped[str] = mapped_column(sa.String(200))
    tier: Mapped[str] = mapped_column(sa.String(20))
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    earned: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # lifetime
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(IdMixin, TenantOwnedMixin, Base):
    """One change of a member's balance, never updated but for ``remaining`` (what is left of
    the points it added). ``key`` is its natural key (``earn:<order id>``, an Idempotency-Key):
    the same change asked twice is made once."""

    __tablename__ = "loyalty_ledger"
    __table_args__ = (
        sa.UniqueConstraint("member_id", "key"),
        sa.Index(None, "member_id", "created_at"),
        sa.Index(None, "expires_at"),
        sa.Index(None, "tenant_id", "order_id"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("loyalty_members.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(sa.String(10))  # earn redeem expire reverse adjust
    points: Mapped[int] = mapped_column(sa.BigInteger)  # signed
    balance_after: Mapped[int] = mapped_column(sa.BigInteger)
    remaining: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # of a lot: not yet used
    expires_at: Mapped[datetime | None]
    key: Mapped[str] = mapped_column(sa.String(200))
    order_id: Mapped[uuid.UUID | None]
    amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)  # a redemption's value
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    programme_version: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    detail: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
