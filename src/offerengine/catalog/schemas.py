from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator

from offerengine import money
from offerengine.catalog import core
from offerengine.catalog.models import Product
from offerengine.money import NUC, format_amount

ProductType = Annotated[
    str,
    StringConstraints(pattern=core.PRODUCT_TYPE_PATTERN),
    Field(
        description="Upper-case identifier: "
        + ", ".join(core.KNOWN_PRODUCT_TYPES)
        + " or your own.",
        examples=["SEAT"],
    ),
]
ProductCode = Annotated[
    str,
    StringConstraints(pattern=core.PRODUCT_CODE_PATTERN),
    Field(description="Unique within the tenant.", examples=["SEAT-EXTRA-LEG"]),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
PricingUnit = Literal["per_trip", "per_night", "per_day", "per_passenger"]
PartnerCode = Annotated[
    str,
    StringConstraints(pattern=core.PARTNER_CODE_PATTERN),
    Field(
        description="Who supplies the product: 2-20 upper-case letters, digits, - or _.",
        examples=["HARBOURHOTELS"],
    ),
]
Amount = Annotated[
    Decimal,
    Field(
        ge=0,
        max_digits=18,
        description="A decimal string (or number) in `currency`; no more decimals than it has.",
        examples=["30.00"],
    ),
]


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_type: ProductType
    product_code: ProductCode
    name: Text
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    category: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = Field(default=None, examples=["EXTRA_LEGROOM"])
    base_price: Amount | None = None
    base_price_nuc: int | None = Field(
        default=None,
        ge=0,
        lt=10**15,
        description="Seed 001's form: the price in minor units of NUC (3000 = NUC 30.00). "
        "Give this or base_price, not both.",
    )
    currency: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[A-Z]{3}$"),
            Field(json_schema_extra={"enum": money.currency_codes(allow_filing=True)}),
        ]
        | None
    ) = Field(
        default=None,
        description="ISO 4217 code, or NUC (a filing unit). Default: the tenant's base currency.",
        examples=["USD"],
    )
    cost: Amount | None = Field(
        default=None, description="What the product costs you (for margins)."
    )
    price_floor: Amount | None = Field(
        default=None, description="Pricing guard rail: the price never goes below this."
    )
    price_ceiling: Amount | None = Field(
        default=None, description="Pricing guard rail: the price never goes above this."
    )
    metadata: dict[str, JsonValue] = Field(
        default_factory=dict, description="Product-specific attributes (JSON object)."
    )
    is_active: bool = True
    partner_code: PartnerCode | None = None
    partner_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = Field(
        default=None,
        description="The partner's name as travellers see it.",
        examples=["Harbour Hotels"],
    )
    pricing_unit: PricingUnit | None = Field(
        default=None,
        description="What the price is per, for the party: per_trip (once), per_night (HOTEL: "
        "each night of the stay), per_day (CAR: each day of hire), per_passenger (every "
        "passenger, infants included). None: per seated passenger, as other ancillaries.",
    )

    @model_validator(mode="after")
    def _one_price(self) -> Self:
        if self.base_price is not None and self.base_price_nuc is not None:
            raise ValueError("give base_price or base_price_nuc, not both")
        if self.base_price is None and self.base_price_nuc is None:
            raise ValueError("a price is required: base_price (with currency) or base_price_nuc")
        return self

    def to_input(self) -> core.ProductInput:
        return core.ProductInput(
            product_type=self.product_type,
            product_code=self.product_code,
            name=self.name,
            description=self.description,
            category=self.category,
            base_price=self.base_price,
            base_price_nuc=self.base_price_nuc,
            currency=self.currency,
            cost=self.cost,
            attributes=self.metadata,
            is_active=self.is_active,
            price_floor=self.price_floor,
            price_ceiling=self.price_ceiling,
            partner_code=self.partner_code,
            partner_name=self.partner_name,
            pricing_unit=self.pricing_unit,
        )


class ProductCreate(ProductIn):
    pass


class ProductUpdate(ProductIn):
    """A full replacement of the product's fields."""

    version: int | None = Field(
        default=None,
        ge=1,
        description="Optimistic concurrency: the version this change is based on.",
    )


class ProductRead(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    product_type: str
    product_code: str
    name: str
    description: str | None
    category: str | None
    base_price: str = Field(description="Decimal string with the currency's minor units.")
    base_price_nuc: int | None = Field(
        default=None,
        description="Seed 001's form of the price, in minor units of NUC (3000 = NUC 30.00), "
        "for a product priced in NUC; null for one priced in a currency (base_price holds it).",
    )
    currency: str
    cost: str | None
    price_floor: str | None
    price_ceiling: str | None
    metadata: dict[str, Any]
    is_active: bool
    partner_code: str | None = None
    partner_name: str | None = None
    pricing_unit: str | None = None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, product: Product) -> ProductRead:
        def amount(minor: int | None) -> str | None:
            return None if minor is None else format_amount(minor, product.currency)

        return cls(
            id=product.id,
            tenant_id=product.tenant_id,
            product_type=product.product_type,
            product_code=product.product_code,
            name=product.name,
            description=product.description,
            category=product.category,
            base_price=format_amount(product.base_price_minor, product.currency),
            base_price_nuc=product.base_price_minor if product.currency == NUC else None,
            currency=product.currency,
            cost=amount(product.cost_minor),
            price_floor=amount(product.price_floor_minor),
            price_ceiling=amount(product.price_ceiling_minor),
            metadata=dict(product.attributes),
            is_active=product.is_active,
            partner_code=product.partner_code,
            partner_name=product.partner_name,
            pricing_unit=product.pricing_unit,
            version=product.version,
            created_at=product.created_at,
            updated_at=product.updated_at,
        )

    def as_input(self) -> dict[str, Any]:
        """The fields an import takes, so that an export (or a version) can be fed back in."""
        return self.model_dump(
            mode="json",
            include={
                "product_type",
                "product_code",
                "name",
                "description",
                "category",
                "base_price",
                "currency",
                "cost",
                "price_floor",
                "price_ceiling",
                "metadata",
                "is_active",
                "partner_code",
                "partner_name",
                "pricing_unit",
            },
            # a product without a partner reads back as it was given, without the fields
            exclude={"partner_code", "partner_name", "pricing_unit"}
            - {
                name
                for name in ("partner_code", "partner_name", "pricing_unit")
                if getattr(self, name) is not None
            },
        )


MAX_BULK_ROWS = 10_000


class ProductBulk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Rows are validated one by one by the service, so that every bad row is reported with its
    # errors; the schema still documents them as ProductCreate.
    products: list[dict[str, Any]] = Field(
        max_length=MAX_BULK_ROWS,
        description="Products to create or update by product_code (each as for createProduct).",
        json_schema_extra={"items": {"$ref": "#/components/schemas/ProductCreate"}},
    )


class BulkResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    items: list[ProductRead]


class ProductExport(BaseModel):
    products: list[dict[str, Any]] = Field(
        json_schema_extra={"items": {"$ref": "#/components/schemas/ProductCreate"}}
    )


class RuntimeProduct(BaseModel):
    id: uuid.UUID
    product_code: str
    product_type: str
    category: str | None
    name: str
    description: str | None
    base_price: str
    currency: str
    metadata: dict[str, Any]
    version: int
    partner: dict[str, str] | None = Field(
        default=None, description="A partner product's supplier: code and name (else absent)."
    )
    pricing_unit: PricingUnit | None = Field(
        default=None, description="A partner product's pricing unit (else absent)."
    )


class RuntimeProductList(BaseModel):
    items: list[RuntimeProduct]
