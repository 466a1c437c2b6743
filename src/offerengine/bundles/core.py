"""Bundle templates as run time sees them (seed 001, table 5)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

FLIGHT = "FLIGHT"


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """One line of a template: a product type, narrowed by category or cabin, per passenger."""

    type: str
    required: bool
    category: str | None = None
    cabin_class: str | None = None
    quantity: int = 1
    nights: int | None = None  # a partner line's nights or days for a one-way search

    def describe(self) -> str:
        narrowed = self.cabin_class or self.category
        return f"{self.type}{f' ({narrowed})' if narrowed else ''}"


@dataclass(frozen=True, slots=True)
class BundleFacts:
    id: uuid.UUID
    name: str
    bundle_type: str
    items: tuple[ItemSpec, ...]
    discount_percentage: Decimal
    priority: int
    version: int
    is_active: bool = True

    @property
    def flight(self) -> ItemSpec | None:
        return next((i for i in self.items if i.type == FLIGHT), None)

    @property
    def extras(self) -> tuple[ItemSpec, ...]:
        return tuple(i for i in self.items if i.type != FLIGHT)


def item_specs(product_types: Iterable[Mapping[str, Any]]) -> tuple[ItemSpec, ...]:
    return tuple(
        ItemSpec(
            type=str(p["type"]),
            required=bool(p.get("required", False)),
            category=p.get("category"),
            cabin_class=p.get("cabin_class"),
            quantity=int(p.get("quantity") or 1),
            nights=None if p.get("nights") is None else int(p["nights"]),
        )
        for p in product_types
    )


@dataclass(frozen=True, slots=True)
class BundleIndex:
    """Active templates by bundle type (the offer type they make); when several share a type,
    the lowest priority number comes first and is the one used."""

    by_type: Mapping[str, tuple[BundleFacts, ...]]
    by_id: Mapping[uuid.UUID, BundleFacts]

    @classmethod
    def build(cls, bundles: Iterable[BundleFacts]) -> BundleIndex:
        every = sorted(bundles, key=lambda b: (b.priority, b.name))
        by_type: dict[str, list[BundleFacts]] = {}
        for bundle in every:
            if bundle.is_active:
                by_type.setdefault(bundle.bundle_type, []).append(bundle)
        return cls(
            MappingProxyType({k: tuple(v) for k, v in by_type.items()}),
            MappingProxyType({b.id: b for b in every}),
        )
