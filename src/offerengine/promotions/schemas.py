from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from offerengine.fields import Timestamp
from offerengine.shopping.schemas import ConfigRead

Code = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,49}$")]
ProductCode = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
FeatureName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$")]
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class PromotionProduct(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ProductCode
    stock: int = Field(ge=0, le=10_000_000, description="Grants this product can take.")
    low_stock_below: int = Field(
        default=0,
        ge=0,
        description="Inventory-sensitive: with fewer grants than this left, the product is low "
        "in stock and gets no promotion.",
    )


class PromotionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    active: bool = True
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    discount: Amount = Field(description="What a grant costs when used (a discount or a perk).")
    margin: Amount = Field(description="The margin of a purchase it applies to, before it.")
    budget: Amount = Field(description="The most the granted promotions may cost in all.")
    per_customer: int = Field(default=1, ge=1, le=100)
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    products: list[PromotionProduct] = Field(min_length=1, max_length=500)
    features: list[FeatureName] = Field(
        min_length=1,
        max_length=50,
        description="The profile facts its uplift model reads (without profile.): aggregates, "
        "attributes, or features sent with the customers.",
        examples=[["sessions", "views", "carts", "past_spend", "days_since_visit"]],
    )

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class PromotionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    promotions: list[PromotionIn] = Field(default_factory=list, max_length=100)


class PromotionsUpdate(PromotionsIn):
    version: int | None = None


class PromotionsRead(PromotionsIn, ConfigRead):
    pass


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: CustomerId
    features: dict[FeatureName, float] = Field(
        default_factory=dict, description="Features given now; the stored profile's fill in."
    )


class RecommendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId | None = None
    customers: list[CustomerId | CustomerIn] | None = Field(
        default=None, min_length=1, max_length=10_000
    )
    budget: Amount | None = Field(
        default=None, description="At most this much of the promotions' budgets, this time."
    )
    dry_run: bool = Field(default=False, description="Grant nothing, count nothing.")

    @model_validator(mode="after")
    def _who(self) -> Self:
        if (self.customer_id is None) == (self.customers is None):
            raise ValueError("give customer_id or customers")
        return self
