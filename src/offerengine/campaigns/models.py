"""Campaign storage: the campaigns (versioned configuration), their budget counters, the
customers each campaign targeted (treated or held out), and the grants given as personal
coupons."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base, IdMixin, JSONAny, TenantOwnedMixin, TimestampMixin, utcnow


class Campaign(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """Promotions given to an audience on one channel between two dates, within a budget, with a
    share of the targeted customers held out (never granted) to measure what the grants did."""

    __tablename__ = "campaigns"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(sa.String(50))
    name: Mapped[str] = mapped_column(sa.String(200))
    promotions: Mapped[list[Any]] = mapped_column(JSONAny)  # promotion codes
    audience: Mapped[dict[str, Any]] = mapped_column(JSONAny)  # {segment, rule}
    channel: Mapped[str] = mapped_column(sa.String(10))
    currency: Mapped[str] = mapped_column(sa.String(3))
    budget_minor: Mapped[int] = mapped_column(sa.BigInteger)
    min_basket_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    holdout_share: Mapped[float] = mapped_column(sa.Float)
    grant_days: Mapped[int] = mapped_column()
    is_active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class CampaignBudget(TenantOwnedMixin, Base):
    """A campaign's budget in use, in minor units: reserved by open grants (their expected
    cost) and spent by redemptions (their actual discount). Both move only in conditional
    updates: a grant only while ``reserved + spent`` stays within the budget, a redemption only
    while ``spent`` does (see :mod:`offerengine.campaigns.grants`)."""

    __tablename__ = "campaign_budgets"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "campaign_id"),)

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    reserved: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    spent: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class CampaignMember(TenantOwnedMixin, Base):
    """A customer the campaign targeted, once: in the treated arm (granted) or held out (chosen
    by the same selection, never granted), with the uplift the model predicted."""

    __tablename__ = "campaign_members"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "campaign_id", "customer_id"),)

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    customer_id: Mapped[str] = mapped_column(sa.String(200))
    arm: Mapped[str] = mapped_column(sa.String(8))  # treated | holdout
    promotion: Mapped[str] = mapped_column(sa.String(50))
    predicted_uplift: Mapped[float] = mapped_column(sa.Float)
    expected_cost_minor: Mapped[int] = mapped_column(sa.BigInteger)
    grant_id: Mapped[uuid.UUID | None] = mapped_column()
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The features given for the customer when chosen (retraining reads them over the profile's).
    features: Mapped[dict[str, Any] | None] = mapped_column(JSONAny)


class CampaignGrant(IdMixin, TenantOwnedMixin, Base):
    """A promotion granted to one customer as a personal coupon code: ISSUED until a quote that
    applies it is accepted or an airline order is made from an offer that applies it (REDEEMED;
    a cancelled or expired order gives it back) or it passes ``expires_at`` (EXPIRED, by the
    sweep)."""

    __tablename__ = "campaign_grants"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "code"),
        sa.Index(None, "tenant_id", "status", "expires_at"),
        sa.Index(None, "campaign_id", "status"),
        sa.Index(None, "tenant_id", "customer_id", "status"),  # a profile's grant to serve
        sa.Index(None, "tenant_id", "order_id"),  # an order's grants, given back on cancel
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(sa.String(40))
    customer_id: Mapped[str] = mapped_column(sa.String(200))
    promotion: Mapped[str] = mapped_column(sa.String(50))
    currency: Mapped[str] = mapped_column(sa.String(3))
    discount_minor: Mapped[int] = mapped_column(sa.BigInteger)  # what it takes off a basket
    min_basket_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    expected_cost_minor: Mapped[int] = mapped_column(sa.BigInteger)  # reserved while ISSUED
    status: Mapped[str] = mapped_column(sa.String(10))  # ISSUED REDEEMED EXPIRED
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    quote_id: Mapped[uuid.UUID | None] = mapped_column()
    order_id: Mapped[uuid.UUID | None] = mapped_column()  # the airline order that redeemed it
    spent_minor: Mapped[int | None] = mapped_column(sa.BigInteger)  # the actual discount


class CampaignDelivery(IdMixin, TenantOwnedMixin, Base):
    """One batch of a campaign's selections handed to a channel: exported as a file (``csv`` or
    ``parquet``) or sent as a signed webhook (``webhook``, through the outbox), with how many
    selections it carried, its status and the attempts it took."""

    __tablename__ = "campaign_deliveries"
    __table_args__ = (sa.Index(None, "campaign_id", "created_at"),)

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(sa.String(10))
    method: Mapped[str] = mapped_column(sa.String(10))  # csv | parquet | webhook
    batch: Mapped[int] = mapped_column()
    count: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(12))  # EXPORTED | QUEUED | DELIVERED | FAILED
    attempts: Mapped[int] = mapped_column(default=0)
    outbox_id: Mapped[uuid.UUID | None] = mapped_column()  # the webhook outbox row, if sent
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignDelivered(TenantOwnedMixin, Base):
    """A selection (a grant) sent on a channel, by which webhook delivery: a delivery sends only
    the selections not sent on its channel yet. Taken by an insert that skips what is there, so
    two deliveries at once never send one selection twice; a batch whose webhook failed for good
    gives its selections back to the next delivery."""

    __tablename__ = "campaign_delivered"
    __table_args__ = (
        sa.PrimaryKeyConstraint("tenant_id", "campaign_id", "channel", "grant_id"),
        sa.Index(None, "delivery_id"),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(sa.String(10))
    grant_id: Mapped[uuid.UUID] = mapped_column()
    delivery_id: Mapped[uuid.UUID] = mapped_column()
