from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin


class Airport(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    __tablename__ = "airports"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "iata"),)

    iata: Mapped[str] = mapped_column(sa.String(3))
    name: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(100))
    country: Mapped[str] = mapped_column(sa.String(2))
    timezone: Mapped[str] = mapped_column(sa.String(64))
    latitude: Mapped[float]
    longitude: Mapped[float]
