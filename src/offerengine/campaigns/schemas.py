"""Campaigns as the admin API takes and shows them; a recommendation for a campaign; its
measurement."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator

from offerengine.fields import Timestamp, Version
from offerengine.promotions.schemas import Code, CustomerId, CustomerIn

Channel = Literal["email", "sms", "push", "web", "app"]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
SegmentName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_:-]{0,60}$")]


class Audience(BaseModel):
    """Who the campaign may target: the profiles in a segment, those a rule holds for, both
    (each must hold), or (neither given) every customer it is asked about."""

    model_config = ConfigDict(extra="forbid")

    segment: SegmentName | None = Field(
        default=None, description="A segment's name (a learned one's cluster: name:k)."
    )
    rule: str | dict[str, JsonValue] | None = Field(
        default=None,
        description="A rules-language condition over profile.*, checked when saved.",
        examples=["profile.sessions >= 2"],
    )


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    promotions: list[Code] = Field(
        min_length=1, max_length=20, description="The promotions it grants (their codes)."
    )
    audience: Audience = Field(default_factory=Audience)
    channel: Channel
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None,
        description="The tenant's currency (the default); the promotions must be in it.",
    )
    budget: Amount = Field(
        description="The most its grants may cost: reserved at grant (the expected cost), "
        "spent at redemption (the discount given), released when a grant expires."
    )
    min_basket: Amount | None = Field(
        default=None, description="A grant's coupon applies to baskets of at least this."
    )
    starts_at: Timestamp
    ends_at: Timestamp
    holdout_share: float = Field(
        ge=0,
        le=0.9,
        allow_inf_nan=False,
        description="The share of the targeted customers held out (assigned stickily by the "
        "experiments' hashing), never granted: the comparison group of its measurement.",
    )
    grant_days: int = Field(default=14, ge=1, le=366, description="How long a grant is valid.")
    is_active: bool = True

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class CampaignUpdate(CampaignIn):
    version: Version | None = None


class CampaignRead(CampaignIn):
    id: uuid.UUID
    tenant_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime

    def as_input(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(CampaignIn.model_fields))


class CampaignRecommend(BaseModel):
    """The customers to consider (with features, or by id: their stored profile's)."""

    model_config = ConfigDict(extra="forbid")

    customers: list[CustomerId | CustomerIn] = Field(min_length=1, max_length=10_000)
    dry_run: bool = Field(default=False, description="Grant nothing, reserve nothing.")


class CampaignGrantRead(BaseModel):
    id: uuid.UUID
    code: str
    customer_id: str
    promotion: str
    currency: str
    discount: str
    min_basket: str | None
    expected_cost: str
    status: str
    granted_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    quote_id: uuid.UUID | None
    order_id: uuid.UUID | None = None  # the airline order that redeemed it
    spent: str | None


class CampaignDeliver(BaseModel):
    """Send the campaign's selections to a webhook, a signed POST per batch."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "sms", "push"]
    webhook: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="The https URL each batch is POSTed to (signed with the tenant's secret)."
    )
    batch_size: int = Field(default=500, ge=1, le=1000)
