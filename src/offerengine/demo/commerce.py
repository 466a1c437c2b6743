"""The demo marketplace's quote configuration: seed 002's example commission rate, express rule
and flag as written, with the rest a small Turkish marketplace would need (category rates, a
logistics provider, delivery by region and distance, VAT, coupons). Values are illustrative,
not anyone's figures. Loaded idempotently: what exists (by name, or code, or key) is kept."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.commerce import service as commerce
from offerengine.commerce.models import CommissionRate, Coupon, FeeRule
from offerengine.flags import service as flags
from offerengine.flags.models import FeatureFlag
from offerengine.flags.schemas import FeatureFlagCreate
from offerengine.tenants.models import Tenant

SINCE = "2025-01-01T00:00:00Z"

FLAGS: list[dict[str, Any]] = [
    # Seed 002's feature flag configuration, as written, echoed by every quote.
    {
        "key": "dynamic_pricing",
        "name": "Dynamic Pricing",
        "description": "Enable dynamic pricing based on demand",
        "type": "BOOLEAN",
        "value": True,
        "is_enabled": True,
        "rollout": {
            "percentage": 50.0,
            "user_segments": ["premium", "vip"],
            "regions": ["Istanbul", "Ankara"],
        },
        "tags": ["quote"],
    },
    # The express multiplier: 2.0 for half the customers, 1.5 (the rule's) for the rest.
    {
        "key": "express_delivery_multiplier",
        "name": "Express delivery multiplier",
        "type": "NUMBER",
        "value": 2.0,
        "default_value": 1.5,
        "is_enabled": True,
        "rollout": {"percentage": 50.0},
        "tags": ["quote"],
    },
]

RATES: list[dict[str, Any]] = [
    # Seed 002's commission rate configuration, as written (a premium electronics seller in
    # Istanbul), under the demo's names for the category and the seller.
    {
        "name": "Premium electronics seller, Istanbul",
        "category": "electronics",
        "seller_id": "seller-techstore",
        "commission_type": "PERCENTAGE",
        "rate": "12.50",
        "min_amount": "5.00",
        "max_amount": "100.00",
        "currency": "TRY",
        "region": "Istanbul",
        "effective_from": SINCE,
        "priority": 200,
    },
    {
        "name": "Electronics",
        "category": "electronics",
        "commission_type": "PERCENTAGE",
        "rate": "8",
    },
    {"name": "Grocery", "category": "grocery", "commission_type": "PERCENTAGE", "rate": "4"},
    {"name": "Home", "category": "home", "commission_type": "PERCENTAGE", "rate": "10"},
    {
        "name": "Fashion, tiered",
        "category": "fashion",
        "commission_type": "TIERED",
        "tiers": [{"up_to": "1000.00", "rate": "15"}, {"up_to": None, "rate": "10"}],
    },
    {"name": "Everything else", "commission_type": "PERCENTAGE", "rate": "9"},
    {
        "name": "Bazaar seller fee",
        "seller_id": "seller-bazaar",
        "commission_type": "FLAT",
        "rate": "1.50",
    },
    {
        "name": "Yurtiçi Kargo",
        "logistics_provider": "yurtici-kargo",
        "commission_type": "PERCENTAGE",
        "rate": "1.5",
        "max_amount": "25.00",
    },
    {
        "name": "Aras Kargo",
        "logistics_provider": "aras-kargo",
        "commission_type": "FLAT",
        "rate": "2.00",
    },
]

FEE_RULES: list[dict[str, Any]] = [
    # Seed 002's pricing rule configuration, as written, reading its multiplier from the flag.
    {
        "name": "Istanbul Express Delivery",
        "type": "EXPRESS_FEE",
        "configuration": {
            "base_fee": "15.00",
            "multiplier": "1.5",
            "max_fee": "50.00",
            "distance_factor": "2.0",
            "multiplier_flag": "express_delivery_multiplier",
        },
        "region": "Istanbul",
        "effective_from": SINCE,
    },
    {
        "name": "Standard delivery",
        "type": "DELIVERY_FEE",
        "configuration": {"base_fee": "29.90", "per_kg": "5.00", "included_kg": "5"},
    },
    {
        "name": "Istanbul delivery",
        "type": "DELIVERY_FEE",
        "region": "Istanbul",
        "configuration": {"base_fee": "19.90", "per_kg": "4.00", "included_kg": "5"},
    },
    {
        "name": "Distance bands",
        "type": "DISTANCE_FEE",
        "configuration": {
            "bands": [
                {"up_to_km": "5", "fee": "0.00"},
                {"up_to_km": "20", "fee": "10.00"},
                {"up_to_km": "60", "fee": "25.00"},
            ]
        },
    },
    {
        "name": "Small basket",
        "type": "SMALL_BASKET_FEE",
        "configuration": {"threshold": "150.00", "fee": "14.90"},
    },
    {
        "name": "KDV",
        "type": "TAX",
        "region": "TR",
        "configuration": {"rate": "20", "tax_fees": True},
    },
    {
        "name": "KDV basic food",
        "type": "TAX",
        "region": "TR",
        "category": "grocery",
        "configuration": {"rate": "1"},
    },
    {
        "name": "Free delivery over 1,000",
        "type": "FREE_DELIVERY",
        "configuration": {"threshold": "1000.00"},
    },
]

COUPONS: list[dict[str, Any]] = [
    {
        "code": "SAVE20",
        "name": "20% off, up to 100",
        "type": "PERCENTAGE",
        "value": "20",
        "max_discount": "100.00",
        "min_basket": "50.00",
        "stackable": True,
    },
    {"code": "FREESHIP", "name": "Free delivery", "type": "FREE_DELIVERY", "stackable": True},
    {
        "code": "WELCOME50",
        "name": "50 off a first order",
        "type": "FIXED",
        "value": "50.00",
        "min_basket": "250.00",
        "usage_limit_per_customer": 1,
    },
]

SETTINGS = {"default_logistics_provider": "yurtici-kargo"}


async def load(session: AsyncSession, tenant: Tenant, actor: Actor) -> None:
    if "quotes" not in tenant.settings:
        tenant.settings = {**tenant.settings, "quotes": SETTINGS}
    have_flags = set(
        await session.scalars(sa.select(FeatureFlag.key).where(FeatureFlag.tenant_id == tenant.id))
    )
    for flag in FLAGS:
        if flag["key"] not in have_flags:
            await flags.create(
                session, tenant=tenant, data=FeatureFlagCreate.model_validate(flag), actor=actor
            )
    await session.flush()
    kinds: list[tuple[Any, list[dict[str, Any]], Any, str]] = [
        (commerce.RATE, RATES, CommissionRate, "name"),
        (commerce.FEE_RULE, FEE_RULES, FeeRule, "name"),
        (commerce.COUPON, COUPONS, Coupon, "code"),
    ]
    for spec, rows, column, field in kinds:
        model: Any = column
        existing = {
            (obj.body.get(field) if field == "name" else obj.code)
            for obj in await session.scalars(sa.select(model).where(model.tenant_id == tenant.id))
        }
        for row in rows:
            if row[field] not in existing:
                await spec.editing.create(
                    session,
                    tenant=tenant,
                    data=spec.schema_in.model_validate(row),
                    actor=actor,
                )
