"""What one search sees of the tenant (:class:`Shop`: the snapshot sections shopping reads and the
live stock of its flights) and the work it can share with searches like it (:class:`Memo`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from offerengine.bundles.core import BundleIndex, ItemSpec
from offerengine.catalog.core import CatalogIndex, ProductFacts
from offerengine.inventory.core import InventoryPolicy, ResourceKey, Stock
from offerengine.loyalty.core import LoyaltyIndex
from offerengine.pricing import core as pricing
from offerengine.pricing.core import PricingIndex
from offerengine.shopping.core._config import FareSettings, OfferRules
from offerengine.shopping.core._conversion import Conversion
from offerengine.shopping.core._families import FareFamilies
from offerengine.shopping.core._treatment import Treatment

if TYPE_CHECKING:  # the memo holds what these make; they read the memo
    from offerengine.shopping.core._availability import ExtraChoice
    from offerengine.shopping.core._family_grid import FamilyGrid
    from offerengine.shopping.core._taxes import FareTaxes
    from offerengine.shopping.core._totals import ItemNumbers


@dataclass(frozen=True, slots=True)
class Shop:
    """The snapshot sections shopping reads, plus the live stock of the flights in question."""

    catalog: CatalogIndex
    pricing: PricingIndex
    bundles: BundleIndex
    policy: InventoryPolicy
    rules: OfferRules
    fares: FareSettings
    conversion: Conversion
    timezone: str
    countries: Mapping[str, str]  # airport → country, for taxes
    stock: Callable[[ResourceKey], Stock | None]
    treatment: Treatment | None = None
    memo: Memo | None = None  # shared with searches like this one; None: the search's own
    loyalty: LoyaltyIndex | None = None  # the tiers whose benefits show on offers
    families: FareFamilies = field(default_factory=FareFamilies)  # the branded fares sold


@dataclass(slots=True)
class Memo:
    """What a search works out about its flights: prices, chosen products, items. Everything in
    it depends on the search only through its party, customer, channel, context and currency (the
    route and date are in the keys, through the flight), so searches that share those, the same
    snapshot and the same inventory read can share a memo (see ``ShopRuntime.memo``)."""

    facts: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    prices: dict[tuple[uuid.UUID, str], pricing.PriceResult] = field(default_factory=dict)
    fares: dict[str, ProductFacts | None] = field(default_factory=dict)
    items: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    summaries: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    costs: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    item_numbers: dict[int, ItemNumbers] = field(default_factory=dict)  # by id() of an item
    # by flight, cabin and the fare family of the fare they are on
    taxes: dict[tuple[uuid.UUID, str, str | None], FareTaxes] = field(default_factory=dict)
    probabilities: dict[str, float] = field(default_factory=dict)
    extras: dict[tuple[uuid.UUID, ItemSpec, int], ExtraChoice | str] = field(default_factory=dict)
    encoded: dict[int, bytes] = field(default_factory=dict)  # by id() of a dict kept above
    benefits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by tier
    family_grids: dict[tuple[uuid.UUID, str], FamilyGrid] = field(default_factory=dict)
