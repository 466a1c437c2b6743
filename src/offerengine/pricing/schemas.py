from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from offerengine import money
from offerengine.catalog import core as catalog
from offerengine.fields import Timestamp
from offerengine.pricing import core
from offerengine.pricing.models import PricingRule
from offerengine.rulebook import core as rulebook

Factor = Annotated[Decimal, Field(ge=0, max_digits=18, examples=["1.5"])]
Amount = Annotated[Decimal, Field(max_digits=18, examples=["25.00"])]
Formula = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
RuleType = Literal["DEMAND", "TIME", "SEASONAL", "BUNDLE", "SEGMENT", "CHANNEL", "CUSTOM"]
Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,49}$")]


class MultiplierAdjustment(BaseModel):
    """price * (value, or the formula's result kept within [min_multiplier, max_multiplier])."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["MULTIPLIER"]
    value: Factor | None = None
    formula: Formula | None = Field(default=None, examples=["1.0 + (utilization^2 * 2.0)"])
    min_multiplier: Factor | None = None
    max_multiplier: Factor | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.value is None) == (self.formula is None):
            raise ValueError("a MULTIPLIER takes a value or a formula, not both and not neither")
        if (
            self.min_multiplier is not None
            and self.max_multiplier is not None
            and self.min_multiplier > self.max_multiplier
        ):
            raise ValueError("min_multiplier is above max_multiplier")
        return self


class FixedAdjustment(BaseModel):
    """price + value (in the product's currency; negative lowers the price)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["FIXED"]
    value: Amount


class FormulaAdjustment(BaseModel):
    """The formula's result is the new price (it sees price, base_price and the facts)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["FORMULA"]
    formula: Formula = Field(examples=["max(price * 0.9, base_price)"])


class SetAdjustment(BaseModel):
    """The price becomes value (in the product's currency)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["SET"]
    value: Annotated[Decimal, Field(ge=0, max_digits=18)]


Adjustment = Annotated[
    MultiplierAdjustment | FixedAdjustment | FormulaAdjustment | SetAdjustment,
    Field(discriminator="type"),
]


class PricingRuleIn(BaseModel):
    """A pricing rule. Seed 001's business rule shape is taken too: `{"rule_type": "PRICING",
    "rule_name", "rule_config": {"conditions", "adjustments", …}, "priority", "is_active",
    "valid_from", "valid_until"}` (the rule's own type, DEMAND, TIME …, may be in rule_config;
    else CUSTOM)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _seed_shape(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        return rulebook.seed_shape(rulebook.PRICING, data, handler)

    rule_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ] = Field(examples=["Continuous Pricing - Economy"])
    rule_type: RuleType = Field(examples=["DEMAND"])
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    product_id: uuid.UUID | None = Field(default=None, description="Scope: one product …")
    product_type: Annotated[str, StringConstraints(pattern=catalog.PRODUCT_TYPE_PATTERN)] | None = (
        Field(
            default=None,
            description="… or a product type and/or category; all empty: every product.",
        )
    )
    category: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    conditions: JsonValue = Field(
        default_factory=dict,
        description="A JSON condition (seed 001's forms) or an expression; empty: always.",
        examples=[{"product_type": "FLIGHT", "cabin_class": "ECONOMY"}],
    )
    adjustments: Adjustment
    priority: int = Field(
        default=0, ge=-1_000_000, le=1_000_000, description="Lower applies first."
    )
    is_active: bool = True
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    exclusive: bool = Field(default=False, description="When it applies, later rules do not.")
    tags: list[Tag] = Field(
        default_factory=list, max_length=20, description="For grouping, e.g. by experiments."
    )

    @model_validator(mode="after")
    def _scope_and_window(self) -> Self:
        if self.product_id is not None and (self.product_type or self.category):
            raise ValueError("scope is product_id, or product_type and/or category, not both")
        if self.valid_from and self.valid_until and self.valid_from >= self.valid_until:
            raise ValueError("valid_until must be after valid_from")
        return self


class PricingRuleCreate(PricingRuleIn):
    pass


class PricingRuleUpdate(PricingRuleIn):
    """A full replacement of the rule's fields."""

    version: int | None = Field(default=None, ge=1, description="Optimistic concurrency.")


class PricingRuleStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_active: bool
    version: int | None = Field(default=None, ge=1)


class PricingRuleRead(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    rule_name: str
    rule_type: str
    description: str | None
    product_id: uuid.UUID | None
    product_type: str | None
    category: str | None
    conditions: Any
    adjustments: dict[str, Any]
    priority: int
    is_active: bool
    valid_from: datetime | None
    valid_until: datetime | None
    exclusive: bool
    tags: list[str]
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, rule: PricingRule) -> PricingRuleRead:
        return cls.model_validate(rule, from_attributes=True)

    def as_input(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(PricingRuleIn.model_fields))


class PricingRuleTransfer(BaseModel):
    """An export, or an import: rules are matched by rule_name."""

    model_config = ConfigDict(extra="forbid")

    pricing_rules: list[dict[str, Any]] = Field(
        max_length=5000,
        json_schema_extra={"items": {"$ref": "#/components/schemas/PricingRuleCreate"}},
    )


class PricingRuleImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    items: list[PricingRuleRead]


class SimulateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: uuid.UUID
    scenario: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Facts of the situation (see the pricing vocabulary); customer and context may be "
        'given as objects: {"customer": {"tier": "GOLD"}}.',
        examples=[{"utilization": 0.8, "days_until_departure": 3}],
    )
    at: Timestamp | None = Field(default=None, description="The request time; default: now.")


class StepRead(BaseModel):
    rule_id: uuid.UUID
    rule_name: str
    version: int
    type: str
    multiplier: str | None
    amount: str = Field(
        description="What this rule added to the running price (negative lowers it)."
    )
    price_before: str
    price_after: str


class SkipRead(BaseModel):
    rule_id: uuid.UUID
    rule_name: str
    reason: str


class GuardRailRead(BaseModel):
    name: str
    limit: str
    price_before: str
    price_after: str


class PriceRead(BaseModel):
    product_id: uuid.UUID
    product_code: str
    base_price: str
    final_price: str = Field(description="Rounded once, half-up, to the currency's minor units.")
    currency: str
    adjustments: list[StepRead]
    skipped: list[SkipRead]
    guard_rails: list[GuardRailRead]
    at: datetime
    facts: dict[str, Any] = Field(description="The facts the rules saw, derived ones included.")

    @classmethod
    def of(
        cls,
        result: core.PriceResult,
        *,
        product: catalog.ProductFacts,
        at: datetime,
        facts: dict[str, Any],
    ) -> PriceRead:
        def amount(value: Decimal) -> str:
            return money.show(value, result.currency)

        return cls(
            product_id=product.id,
            product_code=product.product_code,
            base_price=amount(result.base_price),
            final_price=str(result.final_price),
            currency=result.currency,
            adjustments=[
                StepRead(
                    rule_id=s.rule_id,
                    rule_name=s.rule_name,
                    version=s.version,
                    type=s.type,
                    multiplier=None if s.multiplier is None else money.plain(s.multiplier),
                    amount=amount(s.amount),
                    price_before=amount(s.price_before),
                    price_after=amount(s.price_after),
                )
                for s in result.steps
            ],
            skipped=[
                SkipRead(rule_id=s.rule_id, rule_name=s.rule_name, reason=s.reason)
                for s in result.skipped
            ],
            guard_rails=[
                GuardRailRead(
                    name=g.name,
                    limit=amount(g.limit),
                    price_before=amount(g.price_before),
                    price_after=amount(g.price_after),
                )
                for g in result.guard_rails
            ],
            at=at,
            facts=facts,
        )
