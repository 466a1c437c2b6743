"""Patching a tenant's snapshot with what changed since, instead of building it whole.

A worker holding version v of a tenant's snapshot learns that version w exists. In one consistent
read it takes the tenant's row and the change log of v+1..w (:func:`service.changes_since`), and:

1. builds whole when it cannot patch: the log misses a version (pruned, or older than the log),
   a change says it changed everything (``*``: a tenant's settings, its network), a kind no part
   below declares (a domain newer than this table: safe, never stale), or the tenant's settings
   moved;
2. otherwise re-reads only what changed and gives a NEW snapshot that shares every untouched part
   with v (the old one keeps serving until the swap):

   - decisioning (offers, placements, collections, fallbacks, formulas, activities): the changed
     objects are re-read and compiled, and only the activities they touch are compiled again
     (``decisioning.compiling.patch``); experiments that changed place their variants again;
   - catalog (products): the changed products are re-read and re-encoded
     (``CatalogIndex.patched``); pricing and shopping, which read the catalog, are rebuilt;
   - fare family sets (branded fares): the shopping part is kept and only its ``fare_families``
     are read again (unless shopping is rebuilt whole anyway, which reads them);
   - every other part is rebuilt whole from the database when a kind it reads changed, and only
     then (``PARTS``): pricing rules, flags, experiments, commission rates, fee rules and coupons,
     bundles, inventory rules, offer rules, fare settings and connection rules, segments,
     promotions, loyalty programmes;
   - a kind no part reads (``OUTSIDE``: campaigns, price-point policies) moves the version only.

A kind listed as changed without its objects (one transaction changed more than
``service.LIST_AT_MOST`` of them) is rebuilt as its part, never the whole tenant.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.catalog import core as catalog
from offerengine.catalog.models import Product
from offerengine.commerce import compiling as commerce
from offerengine.decisioning import compiling as decisioning
from offerengine.decisioning.models import DecisioningObject
from offerengine.decisioning.service import SPECS
from offerengine.experiments import service as experiments
from offerengine.flags import service as flags
from offerengine.loyalty import service as loyalty
from offerengine.pricing import service as pricing
from offerengine.profiles import segments as segmenting
from offerengine.promotions import service as promoting
from offerengine.shopping import config as shopping
from offerengine.snapshots import build as building
from offerengine.snapshots import service
from offerengine.snapshots.core import Snapshot
from offerengine.tenants.models import Tenant

# The configuration kinds (their history names) each part of a snapshot compiles.
DECISIONING = frozenset(spec.history_name for spec in SPECS.values())
PARTS: Mapping[str, frozenset[str]] = {
    "catalog": frozenset({"product"}),
    "pricing": frozenset({"pricing_rule", "product"}),
    "flags": frozenset({"feature_flag"}),
    "experiments": frozenset({"experiment"}),
    "shopping": frozenset(
        {
            "product",
            "bundle_template",
            "inventory_rule",
            "offer_rules",
            "fare_settings",
            "connection_rules",
        }
    ),
    # The shop's fare family sets: patched into the shopping part (when it is not rebuilt whole,
    # which reads them too).
    "fare_families": frozenset({"fare_family_set"}),
    "decisioning": DECISIONING | {"experiment"},
    "commerce": frozenset({"commission_rate", "fee_rule", "coupon", "feature_flag"}),
    "segments": frozenset({"segments"}),
    "promotions": frozenset({"promotions"}),
    "loyalty": frozenset({"loyalty_programme"}),
}
# Versioned kinds no part of a snapshot reads (run time reads them from the database, or they are
# admin-only): a change to them moves the version and nothing else.
OUTSIDE = frozenset({"campaign", "price_point_policy"})
KNOWN = frozenset().union(*PARTS.values(), OUTSIDE)


async def patch(session: AsyncSession, current: Snapshot) -> Snapshot | None:
    """The tenant's snapshot at its latest version, patched from ``current``; ``current`` itself
    when nothing changed; None when it must be built whole (or the tenant is gone)."""
    started = time.perf_counter()
    tenant = await session.get(Tenant, current.tenant.id)
    if tenant is None or dict(tenant.settings) != dict(current.tenant.settings):
        return None
    if tenant.config_version <= current.version:
        return current
    log = await service.changes_since(session, tenant.id, current.version, tenant.config_version)
    if log is None or log.everything:
        return None
    kinds = set(log.objects) | set(log.kinds)
    if not kinds <= KNOWN:
        return None
    changed = {part for part, reads in PARTS.items() if reads & kinds}
    parts: dict[str, Any] = {}
    if "catalog" in changed:
        parts["catalog"] = await _catalog(session, current, log)
    catalog = parts.get("catalog", current.catalog)
    if "experiments" in changed:
        parts["experiments"] = await experiments.load_index(session, tenant.id)
    if "flags" in changed:
        parts["flags"] = await flags.load_index(session, tenant.id)
    if "pricing" in changed:
        products = list(catalog.by_code.values())
        parts["pricing"] = await pricing.load_index(session, tenant.id, products)
    if "shopping" in changed:
        parts["shopping"] = await shopping.load(session, tenant.id, catalog.by_code.values())
    elif "fare_families" in changed:
        parts["shopping"] = replace(
            current.shopping, fare_families=await shopping.load_fare_families(session, tenant.id)
        )
    if "decisioning" in changed:
        parts["decisioning"] = await _decisioning(session, current, log, parts, tenant.settings)
    if "commerce" in changed:
        flag_index = parts.get("flags", current.flags)
        parts["commerce"] = await commerce.load_index(
            session, tenant.id, tenant.settings, flag_index.tagged.get("quote", ())
        )
    if "segments" in changed:
        parts["segments"] = await segmenting.load_index(session, tenant.id)
    if "promotions" in changed:
        parts["promotions"] = await promoting.load_index(session, tenant.id)
    if "loyalty" in changed:
        parts["loyalty"] = await loyalty.load_index(session, tenant.id)
    return replace(
        current,
        tenant=building.tenant_facts(tenant),
        version=tenant.config_version,
        build_seconds=time.perf_counter() - started,
        **parts,
    )


CHUNK = 500  # ids read in one statement (SQLite binds at most a few thousand)


async def _catalog(
    session: AsyncSession, current: Snapshot, log: service.ChangeLog
) -> catalog.CatalogIndex:
    tenant_id = current.tenant.id
    if "product" in log.kinds:
        rows = await session.scalars(sa.select(Product).where(Product.tenant_id == tenant_id))
        return catalog.CatalogIndex.build(building.product_facts(p) for p in rows)
    ids = sorted(log.objects.get("product", frozenset()))
    products: list[catalog.ProductFacts] = []
    for start in range(0, len(ids), CHUNK):
        rows = await session.scalars(
            sa.select(Product).where(
                Product.tenant_id == tenant_id, Product.id.in_(ids[start : start + CHUNK])
            )
        )
        products.extend(building.product_facts(p) for p in rows)
    return current.catalog.patched(ids, products)


async def _decisioning(
    session: AsyncSession,
    current: Snapshot,
    log: service.ChangeLog,
    parts: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> Any:
    tenant_id = current.tenant.id
    experiment_index = parts.get("experiments")
    ranking = None if experiment_index is None else list(experiment_index.by_key.values())
    if log.kinds & DECISIONING:
        every = ranking if ranking is not None else list(current.experiments.by_key.values())
        return await decisioning.load_index(session, tenant_id, settings, every)
    ids = sorted(frozenset().union(*(log.objects.get(k, frozenset()) for k in DECISIONING)))
    changed: dict[uuid.UUID, decisioning.Row | None] = dict.fromkeys(ids)
    for start in range(0, len(ids), CHUNK):
        rows = await session.scalars(
            sa.select(DecisioningObject).where(
                DecisioningObject.tenant_id == tenant_id,
                DecisioningObject.id.in_(ids[start : start + CHUNK]),
            )
        )
        changed.update({row.id: row for row in rows})
    return decisioning.patch(current.decisioning, changed, ranking)
