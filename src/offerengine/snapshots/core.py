"""The compiled, immutable configuration of one tenant, as run time reads it.

A snapshot is built from the database at one ``config_version`` and never changes; a newer version
replaces it by an atomic reference swap (see ``offerengine.snapshots.store``). Each domain contributes
its compiled section; later domains add theirs here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from offerengine.catalog import core as catalog
from offerengine.commerce import core as commerce
from offerengine.decisioning import core as decisioning
from offerengine.experiments import core as experiments
from offerengine.flags import core as flags
from offerengine.loyalty.core import LoyaltyIndex
from offerengine.network import core as network
from offerengine.pricing import core as pricing
from offerengine.profiles.core import SegmentIndex
from offerengine.promotions.core import PromotionIndex
from offerengine.shopping import core as shopping


@dataclass(frozen=True, slots=True)
class TenantFacts:
    id: uuid.UUID
    code: str
    name: str
    kind: str
    base_currency: str
    timezone: str
    status: str
    settings: Mapping[str, Any]

    @property
    def saved_groups(self) -> Mapping[str, Any] | None:
        """Named lists for GrowthBook's ``$inGroup``, from the tenant's ``settings.saved_groups``."""
        groups = self.settings.get("saved_groups")
        return groups if isinstance(groups, Mapping) else None


@dataclass(frozen=True, slots=True)
class Snapshot:
    tenant: TenantFacts
    version: int
    build_seconds: float
    catalog: catalog.CatalogIndex
    network: network.Network
    pricing: pricing.PricingIndex
    flags: flags.FlagIndex
    experiments: experiments.ExperimentIndex
    shopping: shopping.ShoppingConfig
    decisioning: decisioning.DecisioningIndex = field(default_factory=decisioning.DecisioningIndex)
    commerce: commerce.CommerceIndex = field(default_factory=commerce.CommerceIndex)
    segments: SegmentIndex = field(default_factory=SegmentIndex)
    promotions: PromotionIndex = field(default_factory=PromotionIndex)
    loyalty: LoyaltyIndex = field(default_factory=LoyaltyIndex)
