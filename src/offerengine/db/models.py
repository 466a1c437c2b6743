"""Every ORM model, imported so that ``Base.metadata`` is complete (for migrations and tests)."""

from __future__ import annotations

from offerengine.auth.models import ApiKey, AppSecret, User
from offerengine.bundles.models import BundleTemplate
from offerengine.campaigns.models import (
    Campaign,
    CampaignBudget,
    CampaignDelivery,
    CampaignGrant,
    CampaignMember,
)
from offerengine.catalog.models import Product
from offerengine.commerce.models import (
    CommissionRate,
    Coupon,
    CouponUsage,
    FeeRule,
    QuoteLine,
    StoredQuote,
)
from offerengine.db.base import Base
from offerengine.decisioning.models import CapCounter, Decision, DecisioningObject
from offerengine.events.models import Event
from offerengine.experiments.models import Experiment, Exposure
from offerengine.flags.models import FeatureFlag
from offerengine.inventory.models import Flight, InventoryBucket, InventoryRule
from offerengine.learning.models import DecisionLog, LearningModel
from offerengine.loyalty.models import LedgerEntry, LoyaltyMember, LoyaltyProgramme
from offerengine.network.models import Airport
from offerengine.orders.models import Order
from offerengine.pricing.models import PricingRule
from offerengine.profiles.models import Profile, SegmentFit
from offerengine.promotions.models import (
    PromotionCounter,
    PromotionGrant,
    UpliftModel,
    UpliftModelChoice,
)
from offerengine.recording.models import DeadLetter
from offerengine.revenue.models import (
    BookingImport,
    FareFamilySet,
    ImportedBooking,
    RevenueForecast,
    RevenueForecastFamily,
)
from offerengine.shopping.models import (
    OfferBody,
    OfferDay,
    OfferStat,
    StoredSearch,
    TenantDocument,
)
from offerengine.snapshots.models import ConfigChange, SystemState
from offerengine.tenants.models import Tenant
from offerengine.transfer.models import ImportJob
from offerengine.versioning.models import AuditEntry, ObjectVersion
from offerengine.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSecret

metadata = Base.metadata

__all__ = [
    "Airport",
    "ApiKey",
    "AppSecret",
    "AuditEntry",
    "BookingImport",
    "BundleTemplate",
    "Campaign",
    "CampaignBudget",
    "CampaignDelivery",
    "CampaignGrant",
    "CampaignMember",
    "CapCounter",
    "CommissionRate",
    "ConfigChange",
    "Coupon",
    "CouponUsage",
    "DeadLetter",
    "Decision",
    "DecisionLog",
    "DecisioningObject",
    "Event",
    "Experiment",
    "Exposure",
    "FareFamilySet",
    "FeatureFlag",
    "FeeRule",
    "Flight",
    "ImportJob",
    "ImportedBooking",
    "InventoryBucket",
    "InventoryRule",
    "LearningModel",
    "LedgerEntry",
    "LoyaltyMember",
    "LoyaltyProgramme",
    "ObjectVersion",
    "OfferBody",
    "OfferDay",
    "OfferStat",
    "Order",
    "PricingRule",
    "Product",
    "Profile",
    "PromotionCounter",
    "PromotionGrant",
    "QuoteLine",
    "RevenueForecast",
    "RevenueForecastFamily",
    "SegmentFit",
    "StoredQuote",
    "StoredSearch",
    "SystemState",
    "Tenant",
    "TenantDocument",
    "UpliftModel",
    "UpliftModelChoice",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSecret",
    "metadata",
]
