"""Template sets as their files hold them and as the API shows them, and what applying one did."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from offerengine.bundles.schemas import BundleIn
from offerengine.catalog.schemas import ProductCreate
from offerengine.revenue.schemas import FareFamilySetIn

TenantKind = Literal["airline", "marketplace", "retail"]
SetName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$"),
    Field(
        description="A template set's name, e.g. airline-packages.", examples=["airline-packages"]
    ),
]


class TemplateSetFile(BaseModel):
    """A template set as shipped: what it is for, the currency of its prices, and the
    configuration it applies (each kind in the shape of that kind's import)."""

    model_config = ConfigDict(extra="forbid")

    name: SetName
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=2000)]
    tenant_kinds: list[TenantKind] = Field(min_length=1)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    products: list[ProductCreate] = Field(default_factory=list, max_length=500)
    bundles: list[BundleIn] = Field(default_factory=list, max_length=200)
    fare_family_sets: list[FareFamilySetIn] = Field(default_factory=list, max_length=100)


class TemplateSetContents(BaseModel):
    products: int
    bundles: int
    fare_family_sets: int
    bundle_types: list[str] = Field(description="The offer types its bundles make.")
    partners: list[str] = Field(description="The partners its products name.")


class TemplateSetSummary(BaseModel):
    name: str
    title: str
    description: str
    tenant_kinds: list[str]
    currency: str = Field(description="The currency of its prices and fees.")
    contents: TemplateSetContents


class TemplateSetList(BaseModel):
    items: list[TemplateSetSummary]


class TemplateSetRead(TemplateSetSummary):
    """A template set in full: every product, bundle and fare family set it applies."""

    products: list[dict[str, Any]]
    bundles: list[dict[str, Any]]
    fare_family_sets: list[dict[str, Any]]


class KindCounts(BaseModel):
    created: int
    updated: int
    unchanged: int


class TemplateSetApplied(BaseModel):
    """What applying a set did to the tenant, kind by kind (a second apply: all unchanged)."""

    template_set: str
    tenant: str
    products: KindCounts
    bundles: KindCounts
    fare_family_sets: KindCounts
    summary: str = Field(
        description="The counts in words, e.g. products: 6 created, 0 updated, 0 unchanged; …"
    )
