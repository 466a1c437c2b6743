"""Shopping's stored state: the tenant's offer rules and fare settings (versioned configuration),
the offers a search made, and the shown/ordered counts that the conversion estimate learns from."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
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


class OfferBody(TenantOwnedMixin, Base):
    """What the offers of one ranked result share, whichever searches showed them (an identical
    search reuses the result): the offer's JSON members but its id, search, times and
    experiments, and the search it was priced for (to price it again, and to know what an order
    must hold). Kept as long as the offers that point at it."""

    __tablename__ = "offer_bodies"
    __table_args__ = (sa.Index(None, "expires_at"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, sort_order=-10)
    members_json: Mapped[str] = mapped_column(sa.Text)
    basis_json: Mapped[str] = mapped_column(sa.Text)
    expires_at: Mapped[datetime]


class StoredOffer(TenantOwnedMixin, Base):
    """An offer as a search returned it, kept until it expires (and for its orders after): the
    search's own parts here, the rest in its ``OfferBody``."""

    __tablename__ = "offers"
    __table_args__ = (sa.Index(None, "expires_at"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, sort_order=-10)
    search_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    offer_type: Mapped[str] = mapped_column(sa.String(50))
    segment: Mapped[str] = mapped_column(sa.String(50))
    flight_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    body_id: Mapped[str] = mapped_column(sa.String(40))
    experiments_json: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


def offer_json(
    offer_id: str,
    search_id: str,
    members: bytes,
    created_at: str,
    expires_at: str,
    experiments: bytes,
) -> bytes:
    """An offer's JSON as shown: its own parts around the members its body shares."""
    return b"".join(
        (
            b'{"offer_id":"',
            offer_id.encode(),
            b'","search_id":"',
            search_id.encode(),
            b'",',
            members,
            b',"created_at":"',
            created_at.encode(),
            b'","expires_at":"',
            expires_at.encode(),
            b'","experiments":',
            experiments,
            b"}",
        )
    )


@dataclass(frozen=True)
class Offer:
    """A stored offer read back: the row's columns and the offer's JSON, whole."""

    id: str
    tenant_id: uuid.UUID
    search_id: str
    offer_type: str
    segment: str
    flight_id: uuid.UUID
    total_minor: int
    currency: str
    created_at: datetime
    expires_at: datetime
    body_json: bytes
    basis_json: str

    @classmethod
    def of(cls, row: Mapping[str, Any], members: str | bytes, basis_json: str) -> Offer:
        """From an ``offers`` row (as a mapping) and its body's members and basis."""
        members = members if isinstance(members, bytes) else members.encode()
        body = offer_json(
            row["id"],
            row["search_id"],
            members,
            row["created_at"].isoformat(),
            row["expires_at"].isoformat(),
            row["experiments_json"].encode(),
        )
        return cls(
            id=row["id"],
            tenant_id=row["tenant_id"],
            search_id=row["search_id"],
            offer_type=row["offer_type"],
            segment=row["segment"],
            flight_id=row["flight_id"],
            total_minor=row["total_minor"],
            currency=row["currency"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            body_json=body,
            basis_json=basis_json,
        )

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
