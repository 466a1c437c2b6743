from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, JSONAny, TenantOwnedMixin, TimestampMixin


class DecisioningObject(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A placement, offer, fallback offer, collection, ranking formula or activity.

    The six kinds share one versioned table: what differs between them is their body, which the
    kind's schema validates; references between them are checked when saved.
    """

    __tablename__ = "decisioning_objects"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "kind", "name"),
        sa.Index(None, "tenant_id", "kind"),
        sa.Index(None, "tenant_id", "kind", "status", "name"),  # a page filtered by status
    )

    kind: Mapped[str] = mapped_column(sa.String(30))
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20))
    body: Mapped[dict[str, Any]] = mapped_column(JSONAny)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class CapCounter(TenantOwnedMixin, Base):
    """How many times a capping rule of an offer has counted, per subject (a profile, or '' for
    everyone) and window ('' for a lifetime, else the local date the window started)."""

    __tablename__ = "decision_counters"
    __table_args__ = (
        sa.PrimaryKeyConstraint("tenant_id", "offer_id", "cap_key", "subject", "bucket"),
    )

    offer_id: Mapped[uuid.UUID] = mapped_column()
    cap_key: Mapped[str] = mapped_column(sa.String(120))
    subject: Mapped[str] = mapped_column(sa.String(200))
    bucket: Mapped[str] = mapped_column(sa.String(10))
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class Decision(TenantOwnedMixin, Base):
    """A decision as it was made: for whom, when, and what it proposed per activity
    (``[{activity_id, placement_id, offer_id, score, fallback}]``). Feedback is checked against it
    and learning reads it. Written behind the response, in batches."""

    __tablename__ = "decisions"
    __table_args__ = (sa.Index(None, "tenant_id", "made_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    profile_id: Mapped[str] = mapped_column(sa.String(200))
    made_at: Mapped[datetime]
    propositions: Mapped[list[Any]] = mapped_column(JSONAny)


class DecisionStat(TenantOwnedMixin, Base):
    """The feedback an offer got in a placement ('' when the event did not say where): what model
    ranking learns an offer's acceptance rate from."""

    __tablename__ = "decision_stats"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "offer_id", "placement_id"),)

    offer_id: Mapped[uuid.UUID] = mapped_column()
    placement_id: Mapped[str] = mapped_column(sa.String(36))
    impressions: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    accepts: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class CapEvent(TenantOwnedMixin, Base):
    """One event counted against a rolling cap (without Redis): a rolling window's count is the
    number of these within it. Kept until they slide out of every window."""

    __tablename__ = "decision_cap_events"
    __table_args__ = (sa.Index(None, "tenant_id", "offer_id", "cap_key", "subject", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    offer_id: Mapped[uuid.UUID] = mapped_column()
    cap_key: Mapped[str] = mapped_column(sa.String(120))
    subject: Mapped[str] = mapped_column(sa.String(200))
    at: Mapped[datetime]
