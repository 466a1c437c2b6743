"""A tenant's promotions as its snapshot holds them: the definitions, and the latest uplift
model version of each (its id, version and features; the fitted estimator is loaded by id)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class ModelRef:
    id: uuid.UUID
    version: int
    features: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PromotionIndex:
    promotions: tuple[Any, ...] = ()  # schemas.PromotionIn, in the document's order
    models: Mapping[str, ModelRef] = field(default_factory=lambda: MappingProxyType({}))
