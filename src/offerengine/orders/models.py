from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, JSONAny, TenantOwnedMixin, TimestampMixin


class Order(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """An order made from an offer. While HELD it holds inventory units (``holds``) until
    ``hold_expires_at``; CONFIRMED turns them sold; CANCELLED and EXPIRED give them back."""

    __tablename__ = "orders"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "idempotency_key"),
        sa.Index(None, "tenant_id", "status", "created_at"),
        sa.Index(None, "status", "hold_expires_at"),
    )

    offer_id: Mapped[str] = mapped_column(sa.String(40))
    offer_type: Mapped[str] = mapped_column(sa.String(50))
    customer_id: Mapped[str | None] = mapped_column(sa.String(200))  # the search's customer
    status: Mapped[str] = mapped_column(sa.String(20))
    passengers: Mapped[list[Any]] = mapped_column(JSONAny)
    items: Mapped[list[Any]] = mapped_column(JSONAny)
    price: Mapped[dict[str, Any]]
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    holds: Mapped[list[Any]] = mapped_column(JSONAny)  # [{bucket_id, quantity}]
    hold_expires_at: Mapped[datetime]
    idempotency_key: Mapped[str] = mapped_column(sa.String(200))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    payment_reference: Mapped[str | None] = mapped_column(sa.String(200))
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
