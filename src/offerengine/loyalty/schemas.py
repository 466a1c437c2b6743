"""Loyalty's API shapes: programmes (versioned configuration), members, the ledger, and the
points an order pays with."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from offerengine.fields import Version

Code = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Points = Annotated[int, Field(ge=1, le=1_000_000_000)]
LedgerKind = Literal["earn", "redeem", "expire", "reverse", "adjust"]


class BenefitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    free_bags: int = Field(default=0, ge=0, le=5, description="Free checked bags per passenger.")
    lounge: bool = False
    seat_choice: bool = Field(default=False, description="Seat selection free of charge.")
    bonus_percentage: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=1000,
        decimal_places=2,
        description="Bonus points, as a percentage of the points an order earns.",
    )


class TierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(examples=["GOLD"])
    name: Name = Field(examples=["Gold"])
    benefits: BenefitsIn = Field(default_factory=BenefitsIn)


class EarnRuleIn(BaseModel):
    """Points per unit of the programme's currency for the order items it matches; a field left
    out matches anything. The most specific matching rule applies to an item."""

    model_config = ConfigDict(extra="forbid")

    points_per_unit: Decimal = Field(ge=0, le=1000, decimal_places=4, examples=["5"])
    fare_family: Code | None = Field(default=None, examples=["FLEX"])
    cabin: Code | None = Field(default=None, examples=["BUSINESS"])
    product_type: Code | None = Field(default=None, examples=["FLIGHT"])
    tier: Code | None = Field(default=None, examples=["GOLD"])


class PointValueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: CurrencyCode = Field(examples=["USD"])
    value: Decimal = Field(gt=0, le=1000, decimal_places=6, description="What one point is worth.")


class ProgrammeIn(BaseModel):
    """A loyalty programme: its tiers (lowest first) and their benefits, how orders earn points,
    what a point is worth when an order pays with points, and when earned points expire."""

    model_config = ConfigDict(extra="forbid")

    code: Code = Field(examples=["SKY"])
    name: Name = Field(examples=["Skyway Miles"])
    currency: CurrencyCode = Field(
        description="The currency earn rules count units of (ISO 4217).", examples=["USD"]
    )
    tiers: Annotated[list[TierIn], Field(min_length=1, max_length=20)]
    earn_rules: Annotated[list[EarnRuleIn], Field(max_length=200)] = Field(default_factory=list)
    point_values: Annotated[list[PointValueIn], Field(max_length=50)] = Field(
        default_factory=list,
        description="What a point is worth in each currency an order may pay with points in.",
    )
    expiry_months: int | None = Field(
        default=None, ge=1, le=600, description="Earned points expire this many months on."
    )
    min_redemption: int = Field(default=1, ge=1, le=1_000_000_000)
    is_active: bool = True


class ProgrammeUpdate(ProgrammeIn):
    version: Version | None = None


class ProgrammeRead(ProgrammeIn):
    id: uuid.UUID
    tenant_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime

    def as_input(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(ProgrammeIn.model_fields))


# --- members and the ledger ------------------------------------------------------------------------


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId = Field(examples=["cust-42"])
    tier: Code = Field(examples=["GOLD"])


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: Code = Field(examples=["GOLD"])


class MemberRead(BaseModel):
    id: uuid.UUID
    programme_id: uuid.UUID
    programme: str
    customer_id: str
    tier: str
    balance: int
    earned: int
    created_at: datetime
    updated_at: datetime


class Adjustment(BaseModel):
    """Points added (positive) or taken (negative) by hand, with why."""

    model_config = ConfigDict(extra="forbid")

    points: int = Field(ge=-1_000_000_000, le=1_000_000_000, examples=[500])
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    key: Annotated[str, StringConstraints(min_length=1, max_length=150)] | None = Field(
        default=None,
        description="Your unique key for this adjustment, when not sent as the Idempotency-Key "
        "header: the same key again changes nothing.",
    )


class LedgerEntryRead(BaseModel):
    id: uuid.UUID
    kind: LedgerKind
    points: int
    balance_after: int
    remaining: int
    expires_at: datetime | None
    key: str
    order_id: uuid.UUID | None
    amount: str | None
    currency: str | None
    programme_version: int | None
    reason: str | None
    detail: dict[str, Any] | None
    created_at: datetime


class AdjustmentRead(BaseModel):
    member: MemberRead
    entry: LedgerEntryRead
    created: bool  # False: the same Idempotency-Key made it before


class ExpirySweep(BaseModel):
    expired_entries: int
    expired_points: int


class Balance(BaseModel):
    """A member's balance as run time reads it, and the points expiring next."""

    programme: str
    customer_id: str
    tier: str
    balance: int
    next_expiry: datetime | None
    expiring_points: int
    point_value: str | None = Field(description="A point's worth in the programme's currency.")
    currency: str


# --- orders paying with points -----------------------------------------------------------------


class PointsPayment(BaseModel):
    """Points an order uses, at the programme's value per point in the order's currency: as a
    payment (the total stays; ``due`` is what is left to pay) or as a discount (the total falls)."""

    model_config = ConfigDict(extra="forbid")

    programme: Code = Field(examples=["SKY"])
    points: Points = Field(examples=[5000])
    use: Literal["payment", "discount"] = "payment"
