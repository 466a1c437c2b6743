"""Shopping's stored state: the tenant's offer rules and fare settings (versioned configuration),
the offers a search made, and the shown/ordered counts that the conversion estimate learns from."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin, utcnow


class TenantDocument(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A tenant's one-of-a-kind configuration document (offer rules, fare settings), versioned."""

    __tablename__ = "tenant_documents"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "kind"),)

    kind: Mapped[str] = mapped_column(sa.String(40))
    data: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class StoredOffer(TenantOwnedMixin, Base):
    """An offer as the search returned it, kept until it expires (and for its orders after)."""

    __tablename__ = "offers"
    __table_args__ = (sa.Index(None, "expires_at"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, sort_order=-10)
    search_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    offer_type: Mapped[str] = mapped_column(sa.String(50))
    segment: Mapped[str] = mapped_column(sa.String(50))
    flight_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    # JSON text, encoded once for the response and stored as is: the offer exactly as shown, and
    # the search it came from (to price it again, and to know what an order must hold).
    body_json: Mapped[str] = mapped_column(sa.Text)
    basis_json: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    @functools.cached_property
    def body(self) -> dict[str, Any]:
        return dict(msgspec.json.decode(self.body_json))

    @functools.cached_property
    def basis(self) -> dict[str, Any]:
        return dict(msgspec.json.decode(self.basis_json))


class OfferStat(Base):
    """How often offers of a type were shown to a segment, and how often one was ordered."""

    __tablename__ = "offer_stats"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    offer_type: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    segment: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    shown: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    ordered: Mapped[int] = mapped_column(sa.BigInteger, default=0)
