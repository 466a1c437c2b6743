"""API shapes of the commerce configuration: commission rates, fee and tax rules, coupons."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from offerengine.commerce.core import COMPONENTS, Component, FeeType
from offerengine.fields import Timestamp
from offerengine.tenants.schemas import Currency

Dimension = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=10, decimal_places=4, description="Percent, e.g. 12.5"),
]
Amount = Annotated[
    Decimal,
    Field(
        ge=0,
        max_digits=18,
        description="A decimal string (or number) in the rule's currency, with no more decimals "
        "than it has.",
        examples=["15.00"],
    ),
]
Priority = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
FlagKey = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
    Field(
        description="A feature flag's key: the rule takes part only when the flag is on "
        "for the customer."
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Effective(Config):
    effective_from: Timestamp | None = Field(
        default=None, description="In force from then on (none: since always)."
    )
    effective_to: Timestamp | None = Field(default=None, description="In force until then.")
    is_active: bool = True

    @model_validator(mode="after")
    def _window(self) -> Self:
        if (
            self.effective_from is not None
            and self.effective_to is not None
            and self.effective_to <= self.effective_from
        ):
            raise ValueError("effective_to must be after effective_from")
        return self


# --- commission rates ------------------------------------------------------------------------------


class Tier(Config):
    up_to: Amount | None = Field(
        description="Upper bound of the bracket of item value; null for the last bracket."
    )
    rate: Percent


class CommissionRateIn(Effective):
    """Seed 002's commission rate. Each of `category`, `seller_id`, `logistics_provider` and
    `region` left out matches every item."""

    name: Name | None = Field(default=None, description="For people; a default is made up.")
    component: Component | None = Field(
        default=None,
        description="Which part of the commission breakdown this rate makes: `seller`, "
        "`category` or `logistics`. Default: `seller` when seller_id is set, else `logistics` "
        "when only logistics_provider is, else `category`.",
    )
    category: Dimension | None = Field(
        default=None, validation_alias=AliasChoices("category", "category_id")
    )
    seller_id: Dimension | None = None
    logistics_provider: Dimension | None = None
    region: Dimension | None = Field(
        default=None, description="A city (`Istanbul`) or a country code (`TR`) of the delivery."
    )
    commission_type: Literal["PERCENTAGE", "FLAT", "TIERED"]
    rate: Decimal | None = Field(
        default=None,
        ge=0,
        max_digits=18,
        description="PERCENTAGE: percent of the item value (0-100); FLAT: an amount per unit.",
    )
    tiers: list[Tier] | None = Field(
        default=None,
        max_length=50,
        description="TIERED: progressive brackets over the item value, like tax brackets.",
    )
    min_amount: Amount | None = None
    max_amount: Amount | None = None
    currency: Currency | None = Field(
        default=None,
        description="The rate applies to quotes in this currency (default: the tenant's).",
    )
    priority: Priority = 0
    flag: FlagKey | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.commission_type == "TIERED":
            if not self.tiers:
                raise ValueError("a TIERED rate needs tiers")
            if self.rate is not None:
                raise ValueError("a TIERED rate takes tiers, not rate")
            bounds = [t.up_to for t in self.tiers]
            if any(b is None for b in bounds[:-1]):
                raise ValueError("only the last tier may be open (up_to: null)")
            finite = [b for b in bounds if b is not None]
            if finite != sorted(set(finite)):
                raise ValueError("tiers go up: each up_to above the one before")
        else:
            if self.rate is None:
                raise ValueError(f"a {self.commission_type} rate needs rate")
            if self.tiers:
                raise ValueError(f"a {self.commission_type} rate takes rate, not tiers")
            if self.commission_type == "PERCENTAGE" and self.rate > 100:
                raise ValueError("a PERCENTAGE rate is at most 100")
        if (
            self.min_amount is not None
            and self.max_amount is not None
            and self.min_amount > self.max_amount
        ):
            raise ValueError("min_amount is above max_amount")
        return self

    def resolved_component(self) -> Component:
        if self.component is not None:
            return self.component
        if self.seller_id is not None:
            return "seller"
        if self.logistics_provider is not None and self.category is None:
            return "logistics"
        return "category"


class CommissionRateUpdate(CommissionRateIn):
    version: int | None = Field(default=None, description="The version this change is based on.")


class Stored(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime


class CommissionRateRead(CommissionRateIn, Stored):
    component: Component
    name: str
    currency: str
    category: str | None = None


class BulkRate(CommissionRateIn):
    id: uuid.UUID | None = Field(
        default=None, description="An existing rate to replace; without it a new rate."
    )
    version: int | None = Field(
        default=None, description="For an existing rate: the version the change is based on."
    )


class CommissionRateBulk(Config):
    rates: list[BulkRate] = Field(min_length=1, max_length=5000)


class BulkResult(BaseModel):
    created: list[uuid.UUID]
    updated: list[uuid.UUID]
    unchanged: list[uuid.UUID]


# --- fee and tax rules -----------------------------------------------------------------------------


class DeliveryFeeConfig(Config):
    base_fee: Amount
    per_kg: Amount = Decimal(0)
    included_kg: Annotated[Decimal, Field(ge=0, max_digits=12)] = Decimal(0)


class Band(Config):
    up_to_km: Annotated[Decimal, Field(gt=0, max_digits=12)] | None = Field(
        description="The band's upper distance; null for the last, open band."
    )
    fee: Amount


class DistanceFeeConfig(Config):
    bands: list[Band] = Field(
        min_length=1,
        max_length=100,
        description="Distance bands, nearest first. A last band with a bound is the farthest "
        "delivery: farther is refused.",
    )

    @model_validator(mode="after")
    def _bands(self) -> Self:
        bounds = [b.up_to_km for b in self.bands]
        if any(b is None for b in bounds[:-1]):
            raise ValueError("only the last band may be open (up_to_km: null)")
        finite = [b for b in bounds if b is not None]
        if finite != sorted(set(finite)):
            raise ValueError("bands go out: each up_to_km beyond the one before")
        return self


class ExpressFeeConfig(Config):
    base_fee: Amount = Field(default=Decimal(0), description="Added to the delivery fee.")
    multiplier: Annotated[Decimal, Field(ge=1, le=100, max_digits=10)] = Field(
        default=Decimal(1), description="The delivery fee so far (base + distance) times this."
    )
    max_fee: Amount | None = Field(
        default=None, description="The delivery fee with express is at most this."
    )
    distance_factor: Annotated[Decimal, Field(ge=0, max_digits=12)] = Field(
        default=Decimal(0), description="Added per km of pickup→delivery distance."
    )
    multiplier_flag: FlagKey | None = Field(
        default=None,
        description="A NUMBER flag whose value, for the customer, replaces multiplier.",
    )


class SmallBasketFeeConfig(Config):
    threshold: Amount = Field(description="Subtotals (after coupons) under this pay the fee.")
    fee: Amount


class TaxConfig(Config):
    rate: Percent
    tax_fees: bool = Field(
        default=False,
        description="On a rule without category: the delivery and small-basket fees are taxed "
        "at this rate too.",
    )


class FreeDeliveryConfig(Config):
    threshold: Amount | None = Field(
        default=None, description="Subtotals (after coupons) of at least this ship free."
    )
    coupon_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{2,40}$")] | None = Field(
        default=None, description="Delivery is free when this coupon applies."
    )
    include_express: bool = Field(default=False, description="Waive the express part too.")

    @model_validator(mode="after")
    def _condition(self) -> Self:
        if self.threshold is None and self.coupon_code is None:
            raise ValueError("give a threshold, a coupon_code, or both")
        if self.coupon_code is not None:
            self.coupon_code = self.coupon_code.upper()
        return self


CONFIGURATIONS: dict[str, type[Config]] = {
    "DELIVERY_FEE": DeliveryFeeConfig,
    "DISTANCE_FEE": DistanceFeeConfig,
    "EXPRESS_FEE": ExpressFeeConfig,
    "SMALL_BASKET_FEE": SmallBasketFeeConfig,
    "TAX": TaxConfig,
    "FREE_DELIVERY": FreeDeliveryConfig,
}


class FeeRuleIn(Effective):
    """Seed 002's versioned pricing rule: a fee or a tax, by region. `configuration` depends on
    `type`: DELIVERY_FEE `{base_fee, per_kg?, included_kg?}`; DISTANCE_FEE `{bands: [{up_to_km,
    fee}]}`; EXPRESS_FEE `{base_fee?, multiplier?, max_fee?, distance_factor?,
    multiplier_flag?}`; SMALL_BASKET_FEE `{threshold, fee}`; TAX `{rate, tax_fees?}`;
    FREE_DELIVERY `{threshold?, coupon_code?, include_express?}`."""

    name: Name
    type: FeeType
    configuration: dict[str, Any] = Field(
        max_length=20, examples=[{"base_fee": "15.00", "multiplier": "1.5", "max_fee": "50.00"}]
    )
    region: Dimension | None = Field(
        default=None,
        description="A city or a country code of the delivery; none: everywhere (the default).",
    )
    category: Dimension | None = Field(default=None, description="TAX only: items of a category.")
    currency: Currency | None = Field(
        default=None, description="Amounts are in this currency (default: the tenant's)."
    )
    priority: Priority = 0
    flag: FlagKey | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _category(self) -> Self:
        if self.category is not None and self.type != "TAX":
            raise ValueError("only TAX rules take a category")
        return self


class FeeRuleUpdate(FeeRuleIn):
    version: int | None = Field(default=None, description="The version this change is based on.")


class FeeRuleRead(FeeRuleIn, Stored):
    currency: str


# --- coupons ---------------------------------------------------------------------------------------

CouponCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_-]{2,40}$"),
    Field(description="Case-insensitive; stored in upper case.", examples=["SAVE20"]),
]


class CouponIn(Config):
    code: CouponCode
    name: Name | None = None
    type: Literal["PERCENTAGE", "FIXED", "FREE_DELIVERY"]
    value: Decimal | None = Field(
        default=None,
        ge=0,
        max_digits=18,
        description="PERCENTAGE: percent off the items in scope; FIXED: an amount off; "
        "FREE_DELIVERY: none.",
    )
    min_basket: Amount | None = Field(default=None, description="Item total it needs.")
    max_discount: Amount | None = None
    currency: Currency | None = Field(default=None, description="Default: the tenant's.")
    categories: list[Dimension] = Field(
        default_factory=list, max_length=500, description="Only items of these categories."
    )
    sellers: list[Dimension] = Field(
        default_factory=list, max_length=500, description="Only items of these sellers."
    )
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    usage_limit_total: int | None = Field(default=None, ge=1, le=10**9)
    usage_limit_per_customer: int | None = Field(default=None, ge=1, le=10**9)
    stackable: bool = Field(default=False, description="May be combined with other coupons.")
    is_active: bool = True

    @model_validator(mode="after")
    def _shape(self) -> Self:
        self.code = self.code.upper()
        if self.type == "FREE_DELIVERY":
            if self.value is not None:
                raise ValueError("a FREE_DELIVERY coupon takes no value")
        elif self.value is None:
            raise ValueError(f"a {self.type} coupon needs value")
        elif self.type == "PERCENTAGE" and self.value > 100:
            raise ValueError("a PERCENTAGE coupon takes at most 100")
        if (
            self.valid_from is not None
            and self.valid_until is not None
            and self.valid_until <= self.valid_from
        ):
            raise ValueError("valid_until must be after valid_from")
        return self


class CouponUpdate(CouponIn):
    version: int | None = Field(default=None, description="The version this change is based on.")


class CouponRead(CouponIn, Stored):
    currency: str
    used: int = Field(default=0, description="Uses by accepted quotes.")


class RuleVersion(BaseModel):
    version: int
    action: str = Field(description="create, update or rollback.")
    in_force: bool = Field(description="Whether this version is the one in force now.")
    effective_from: datetime | None
    effective_to: datetime | None
    is_active: bool
    region: str | None
    configuration: dict[str, Any]
    author: str
    created_at: datetime


class RuleVersions(BaseModel):
    rule_id: uuid.UUID
    name: str
    type: str
    in_force_version: int | None = Field(
        description="The version in force now; null when none is (scheduled, ended or inactive)."
    )
    items: list[RuleVersion]


__all__ = [
    "COMPONENTS",
    "CONFIGURATIONS",
    "BulkResult",
    "CommissionRateBulk",
    "CommissionRateIn",
    "CommissionRateRead",
    "CommissionRateUpdate",
    "CouponIn",
    "CouponRead",
    "CouponUpdate",
    "FeeRuleIn",
    "FeeRuleRead",
    "FeeRuleUpdate",
    "RuleVersions",
]
