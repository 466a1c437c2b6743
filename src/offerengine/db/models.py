"""Every ORM model, imported so that ``Base.metadata`` is complete (for migrations and tests)."""

from __future__ import annotations

from offerengine.auth.models import ApiKey
from offerengine.catalog.models import Product
from offerengine.db.base import Base
from offerengine.events.models import Event
from offerengine.experiments.models import Experiment, Exposure
from offerengine.flags.models import FeatureFlag
from offerengine.network.models import Airport
from offerengine.pricing.models import PricingRule
from offerengine.snapshots.models import SystemState
from offerengine.tenants.models import Tenant
from offerengine.versioning.models import AuditEntry, ObjectVersion

metadata = Base.metadata

__all__ = [
    "Airport",
    "ApiKey",
    "AuditEntry",
    "Event",
    "Experiment",
    "Exposure",
    "FeatureFlag",
    "ObjectVersion",
    "PricingRule",
    "Product",
    "SystemState",
    "Tenant",
    "metadata",
]
