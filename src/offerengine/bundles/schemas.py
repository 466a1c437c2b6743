from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from offerengine.bundles.models import BundleTemplate
from offerengine.fields import InCalendar
from offerengine.inventory.schemas import Cabin
from offerengine.shopping.schemas import SearchRequest

TypeCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,49}$")]


class BundleItem(BaseModel):
    """A line of the template: a product type, narrowed by category (or, for FLIGHT, cabin)."""

    model_config = ConfigDict(extra="forbid")

    type: TypeCode = Field(examples=["SEAT"])
    category: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    cabin_class: Cabin | None = Field(
        default=None, description="FLIGHT lines only: the cabin the bundle sells."
    )
    quantity: int = Field(
        default=1,
        ge=1,
        le=10,
        description="Units per seated passenger; for a partner product priced per_trip, "
        "per_night or per_day, units for the party (rooms, cars).",
    )
    required: bool = False
    nights: int | None = Field(
        default=None,
        ge=1,
        le=60,
        description="A partner line priced per_night or per_day: the nights (or days of hire) "
        "a one-way search sells; a journey of two or more slices counts the stay between its "
        "first and last slice's dates instead. Default 1.",
    )

    @model_validator(mode="after")
    def _cabin_on_flight(self) -> Self:
        if self.cabin_class is not None and self.type != "FLIGHT":
            raise ValueError("cabin_class narrows a FLIGHT line only")
        if self.nights is not None and self.type == "FLIGHT":
            raise ValueError("nights belongs to a partner line (HOTEL, CAR), not FLIGHT")
        return self


class BundleIn(BaseModel):
    """Seed 001's bundle template."""

    model_config = ConfigDict(extra="forbid")

    bundle_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    bundle_type: TypeCode = Field(
        description="The offer type it makes (COMFORT, PREMIUM …); not FLIGHT_ONLY.",
        examples=["COMFORT"],
    )
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    product_types: list[BundleItem] = Field(min_length=1, max_length=20)
    discount_percentage: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=100,
        decimal_places=2,
        description="Off the bundled ancillaries; the flight fare is never discounted.",
    )
    priority: int = Field(
        default=0, ge=-1000, le=1000, description="Among templates of one type, the lowest wins."
    )
    is_active: bool = True

    @model_validator(mode="after")
    def _shape(self) -> Self:
        flights = [i for i in self.product_types if i.type == "FLIGHT"]
        if len(flights) != 1:
            raise ValueError("a bundle has exactly one FLIGHT line")
        if not flights[0].required:
            raise ValueError("the FLIGHT line of a bundle is required")
        if self.bundle_type == "FLIGHT_ONLY":
            raise ValueError("FLIGHT_ONLY is the offer without a bundle; choose another type")
        return self


class BundleUpdate(BundleIn):
    version: int | None = Field(default=None, ge=1)


class BundleRead(BundleIn):
    id: uuid.UUID
    tenant_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, bundle: BundleTemplate) -> BundleRead:
        return cls(
            id=bundle.id,
            tenant_id=bundle.tenant_id,
            bundle_name=bundle.bundle_name,
            bundle_type=bundle.bundle_type,
            description=bundle.description,
            product_types=[BundleItem.model_validate(p) for p in bundle.product_types],
            discount_percentage=Decimal(bundle.discount_percentage).quantize(Decimal("0.01")),
            priority=bundle.priority,
            is_active=bundle.is_active,
            version=bundle.version,
            created_at=bundle.created_at,
            updated_at=bundle.updated_at,
        )

    def as_input(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(BundleIn.model_fields))


class BundleTransfer(BaseModel):
    """Bundle templates to create or update by name, all or nothing (a template set's)."""

    model_config = ConfigDict(extra="forbid")

    bundles: list[BundleIn] = Field(max_length=200)


class BundleImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    items: list[BundleRead]


class BundleTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search_params: SearchRequest
    at: Annotated[datetime, InCalendar] | None = Field(
        default=None, description="Price as of this instant (default now)."
    )
