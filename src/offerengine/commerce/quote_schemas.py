"""API shapes of quotes: seed 002's request as written, and its response with the explanation."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    model_validator,
)

from offerengine.tenants.schemas import Currency

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Optional = Annotated[str, StringConstraints(max_length=200)] | None


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: Annotated[str, StringConstraints(max_length=300)] | None = None
    city: Text
    district: Optional = None
    country: Annotated[
        str,
        StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True),
        Field(description="ISO 3166-1 alpha-2 country code.", examples=["TR"]),
    ]
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)

    @model_validator(mode="after")
    def _both(self) -> Self:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self


class QuoteItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: Text
    variant_id: Optional = None
    name: Optional = None
    quantity: int = Field(
        ge=1, le=1_000_000, strict=True, description='A JSON integer (not 2.0, "2" or true).'
    )
    unit_price: Decimal = Field(
        ge=0,
        max_digits=18,
        description="A decimal string or number in the quote's currency, with no more decimals "
        "than it has.",
        examples=["25.50"],
    )
    category_id: Optional = Field(
        default=None,
        validation_alias=AliasChoices("category_id", "category"),
        description="The item's category (commission, tax and coupon scope).",
    )
    tags: list[Annotated[str, StringConstraints(max_length=50)]] = Field(
        default_factory=list, max_length=50
    )
    weight: Decimal | None = Field(
        default=None, ge=0, le=100_000, max_digits=12, description="kg per unit."
    )
    seller_id: Optional = Field(default=None, description="Default: the quote's seller_id.")
    logistics_provider: Optional = Field(
        default=None, description="Default: the quote's logistics_provider."
    )


class QuoteContext(BaseModel):
    """Who is asking; every field is also a fact for the feature flags the quote evaluates."""

    model_config = ConfigDict(extra="allow")

    user_agent: Annotated[str, StringConstraints(max_length=1000)] | None = None
    ip_address: Annotated[str, StringConstraints(max_length=100)] | None = None
    session_id: Optional = None
    ab_test_group: Optional = None
    segment: Optional = None

    @model_validator(mode="after")
    def _small(self) -> Self:
        extra = self.model_extra or {}
        if len(extra) > 50:
            raise ValueError("at most 50 further context attributes")
        for name, value in extra.items():
            if not (value is None or isinstance(value, str | int | float | bool)):
                raise ValueError(f"{name}: context attributes are strings, numbers or booleans")
            if isinstance(value, str) and len(value) > 500:
                raise ValueError(f"{name}: at most 500 characters")
        return self


class QuoteRequest(BaseModel):
    """Seed 002's quote request, as written."""

    model_config = ConfigDict(extra="forbid")

    customer_id: Optional = None
    seller_id: Optional = Field(default=None, description="The seller of items that name none.")
    logistics_provider: Optional = Field(
        default=None,
        description="Who delivers (the logistics commission); default: the tenant's "
        "settings.quotes.default_logistics_provider.",
    )
    items: list[QuoteItem] = Field(min_length=1, max_length=500)
    delivery_address: Address
    pickup_address: Address | None = None
    is_express_delivery: bool = False
    coupon_codes: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=10
    )
    currency: Currency | None = Field(
        default=None,
        description="Default: the tenant's. One no rule prices in is converted with the tenant's "
        "exchange rates, or refused (docs/quotes.md, Currencies).",
    )
    context: QuoteContext = Field(default_factory=QuoteContext)


# --- the response (documented; the route encodes it itself) --------------------------------------

Money = Annotated[str, Field(description="A decimal string in the quote's currency.")]


class Calculation(BaseModel):
    step: str
    description: str
    amount: Money
    running_total: Money
    rule_id: uuid.UUID | None = None
    rule_version: int | None = None


class QuoteExchange(BaseModel):
    from_: str = Field(alias="from", description="The currency the basket was sent in.")
    to: str = Field(description="The quote's currency.")
    rate: str = Field(description="Units of `to` per unit of `from`.")
    source: Literal["fare_settings"] = Field(description="Where the rate is configured.")
    version: int = Field(description="The version of that document.")


class PricingBreakdown(BaseModel):
    item_total: Money
    discount_amount: Money
    subtotal: Money
    tax_amount: Money
    delivery_fee: Money
    small_basket_fee: Money
    total_amount: Money
    currency: str
    distance_km: str | None
    calculations: list[Calculation]
    notes: list[str]
    exchange: QuoteExchange | None = Field(
        default=None,
        description="How a basket sent in a currency no rule prices in was converted into this "
        "quote's currency (docs/quotes.md, Currencies); null when it was not.",
    )


class CommissionDetail(BaseModel):
    item_index: int
    product_id: str
    component: Literal["seller", "category", "logistics"]
    rate_id: uuid.UUID
    rate_version: int
    rate_name: str
    commission_type: str
    base: Money
    amount: Money
    calculation: str


class CommissionBreakdown(BaseModel):
    total_commission: Money
    seller_commission: Money
    category_commission: Money
    logistics_commission: Money
    currency: str
    details: list[CommissionDetail]


class AppliedRule(BaseModel):
    id: uuid.UUID
    name: str
    type: str
    version: int


class QuotedItem(BaseModel):
    index: int
    product_id: str
    variant_id: str | None
    quantity: int
    unit_price: Money
    value: Money
    discount: Money
    net: Money
    tax: Money
    tax_rule_id: uuid.UUID | None
    commission: Money


class AppliedCoupon(BaseModel):
    code: str
    coupon_id: uuid.UUID
    version: int
    type: str
    amount: Money
    description: str


class RejectedCoupon(BaseModel):
    code: str
    reason: str


class Coupons(BaseModel):
    applied: list[AppliedCoupon]
    rejected: list[RejectedCoupon]


class QuoteData(BaseModel):
    quote_id: uuid.UUID
    status: Literal["QUOTED", "ACCEPTED", "EXPIRED"]
    subtotal: Money
    tax_amount: Money
    delivery_fee: Money
    small_basket_fee: Money
    discount_amount: Money
    total_amount: Money
    currency: str
    items: list[QuotedItem]
    coupons: Coupons
    commission_breakdown: CommissionBreakdown
    pricing_breakdown: PricingBreakdown
    applied_rules: list[AppliedRule]
    warnings: list[str]
    feature_flags: dict[str, JsonValue]
    created_at: datetime
    valid_until: datetime
    accepted_at: datetime | None = None
    config_version: int


class QuoteEnvelope(BaseModel):
    """Seed 002's response envelope."""

    success: bool
    message: str
    data: QuoteData
    processing_time_ms: float


class AcceptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: Optional = Field(default=None, description="Your order or payment reference.")


__all__ = ["AcceptRequest", "Address", "Any", "QuoteEnvelope", "QuoteItem", "QuoteRequest"]
