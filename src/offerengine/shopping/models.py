"""Shopping's stored state: the tenant's offer rules and fare settings (versioned configuration),
the offers a search made, and the shown/ordered counts that the conversion estimate learns from."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
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


class StoredSearch(TenantOwnedMixin, Base):
    """The offers one search showed, in one row, kept until they expire (and for their orders
    after). Offer ids are the row's id and two hex digits: the offer's place in ``offers_json``,
    which holds, by that place, what is each offer's own (type, flight, total, body, expiry); the
    rest of an offer is its ``OfferBody``."""

    __tablename__ = "shop_searches"
    __table_args__ = (sa.Index(None, "expires_at"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, sort_order=-10)
    search_id: Mapped[str] = mapped_column(sa.String(40))
    segment: Mapped[str] = mapped_column(sa.String(50))
    customer_id: Mapped[str | None] = mapped_column(sa.String(200))
    currency: Mapped[str] = mapped_column(sa.String(3))
    experiments_json: Mapped[str] = mapped_column(sa.Text)
    offers_json: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # the last of its offers'


class OfferDay(Base):
    """How many offers of a type searches showed on a day (UTC), for the dashboards."""

    __tablename__ = "offer_days"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    offer_type: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    shown: Mapped[int] = mapped_column(sa.BigInteger, default=0)


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


KEY_DIGITS = 30  # an offer id: its search row's id, then its place in two hex digits


def place_of(offer_id: str) -> tuple[str, str]:
    """The search row's id and the offer's place in it."""
    return offer_id[:KEY_DIGITS], offer_id[KEY_DIGITS:]


@dataclass(frozen=True)
class Offer:
    """A stored offer read back: its search's and its own columns, and its JSON, whole."""

    id: str
    tenant_id: uuid.UUID
    search_id: str
    offer_type: str
    segment: str
    customer_id: str | None
    flight_id: uuid.UUID
    total_minor: int
    currency: str
    created_at: datetime
    expires_at: datetime
    body_json: bytes
    basis_json: str

    @classmethod
    def of(
        cls,
        offer_id: str,
        search: Mapping[str, Any],
        own: Mapping[str, Any],
        members: str | bytes,
        basis_json: str,
    ) -> Offer:
        """From its search row (as a mapping), its ``own`` entry there, and its body's members
        and basis."""
        members = members if isinstance(members, bytes) else members.encode()
        expires_at = datetime.fromisoformat(own["expires_at"])
        body = offer_json(
            offer_id,
            search["search_id"],
            members,
            search["created_at"].isoformat(),
            own["expires_at"],
            search["experiments_json"].encode(),
        )
        return cls(
            id=offer_id,
            tenant_id=search["tenant_id"],
            search_id=search["search_id"],
            offer_type=own["offer_type"],
            segment=search["segment"],
            customer_id=search["customer_id"],
            flight_id=uuid.UUID(own["flight_id"]),
            total_minor=int(own["total_minor"]),
            currency=search["currency"],
            created_at=search["created_at"],
            expires_at=expires_at,
            body_json=body,
            basis_json=basis_json,
        )

    @functools.cached_property
    def body(self) -> dict[str, Any]:
        return dict(msgspec.json.decode(self.body_json))

    @functools.cached_property
    def basis(self) -> dict[str, Any]:
        """The search it was made for (its customer's id from the search's own row) and what an
        order of it must hold."""
        basis = dict(msgspec.json.decode(self.basis_json))
        if self.customer_id is not None:
            search = basis["search"]
            basis["search"] = {
                **search,
                "customer": {**(search.get("customer") or {}), "id": self.customer_id},
            }
        return basis


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
