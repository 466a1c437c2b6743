"""Building a tenant's snapshot: one consistent read of its configuration, compiled."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine import money
from offerengine.catalog import core as catalog
from offerengine.catalog.models import Product
from offerengine.commerce import compiling as commerce
from offerengine.decisioning import compiling as decisioning
from offerengine.experiments import service as experiments
from offerengine.flags import service as flags
from offerengine.loyalty import service as loyalty
from offerengine.network import core as network
from offerengine.network.models import Airport
from offerengine.pricing import service as pricing
from offerengine.profiles import segments as segmenting
from offerengine.promotions import service as promoting
from offerengine.shopping import config as shopping
from offerengine.snapshots.core import Snapshot, TenantFacts
from offerengine.tenants.models import Tenant


async def build(session: AsyncSession, tenant_id: uuid.UUID) -> Snapshot | None:
    """Compile a tenant's configuration as of one consistent read; None if the tenant is gone.

    The caller runs this in a transaction of its own (repeatable read on PostgreSQL), so that the
    version and the data belong together.
    """
    started = time.perf_counter()
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        return None
    products = (
        await session.scalars(sa.select(Product).where(Product.tenant_id == tenant_id))
    ).all()
    catalog_index = catalog.CatalogIndex.build(product_facts(p) for p in products)
    airports = (
        await session.scalars(sa.select(Airport).where(Airport.tenant_id == tenant_id))
    ).all()
    experiment_index = await experiments.load_index(session, tenant_id)
    flag_index = await flags.load_index(session, tenant_id)
    return Snapshot(
        tenant=tenant_facts(tenant),
        version=tenant.config_version,
        build_seconds=time.perf_counter() - started,
        catalog=catalog_index,
        network=network.Network.build(_airport_facts(a) for a in airports),
        pricing=await pricing.load_index(session, tenant_id, list(catalog_index.by_code.values())),
        flags=flag_index,
        experiments=experiment_index,
        shopping=await shopping.load(session, tenant_id, catalog_index.by_code.values()),
        decisioning=await decisioning.load_index(
            session, tenant_id, tenant.settings, list(experiment_index.by_key.values())
        ),
        commerce=await commerce.load_index(
            session, tenant_id, tenant.settings, flag_index.tagged.get("quote", ())
        ),
        segments=await segmenting.load_index(session, tenant_id),
        promotions=await promoting.load_index(session, tenant_id),
        loyalty=await loyalty.load_index(session, tenant_id),
    )


def tenant_facts(tenant: Tenant) -> TenantFacts:
    """A stored tenant as run time sees it."""
    return TenantFacts(
        id=tenant.id,
        code=tenant.code,
        name=tenant.name,
        kind=tenant.kind,
        base_currency=tenant.base_currency,
        timezone=tenant.timezone,
        status=tenant.status,
        settings=dict(tenant.settings),
    )


def product_facts(product: Product) -> catalog.ProductFacts:
    """A stored product as run time sees it."""

    def amount(minor: int | None) -> Decimal | None:
        return None if minor is None else money.from_minor(minor, product.currency)

    return catalog.ProductFacts(
        id=product.id,
        product_code=product.product_code,
        product_type=product.product_type,
        category=product.category,
        name=product.name,
        description=product.description,
        base_price=money.from_minor(product.base_price_minor, product.currency),
        currency=product.currency,
        cost=amount(product.cost_minor),
        attributes=dict(product.attributes),
        is_active=product.is_active,
        version=product.version,
        price_floor=amount(product.price_floor_minor),
        price_ceiling=amount(product.price_ceiling_minor),
        partner_code=product.partner_code,
        partner_name=product.partner_name,
        pricing_unit=product.pricing_unit,
    )


def _airport_facts(airport: Airport) -> network.AirportFacts:
    return network.AirportFacts(
        iata=airport.iata,
        name=airport.name,
        city=airport.city,
        country=airport.country,
        timezone=airport.timezone,
        latitude=airport.latitude,
        longitude=airport.longitude,
    )


def builder(
    session_factory: async_sessionmaker[AsyncSession],
) -> Callable[[uuid.UUID], Awaitable[Snapshot | None]]:
    """A tenant's snapshot built in a session of its own: what a worker's (or a consumer's)
    snapshot store builds with."""
    is_postgres = session_factory.kw["bind"].dialect.name == "postgresql"

    async def build_one(tenant_id: uuid.UUID) -> Snapshot | None:
        async with session_factory() as session:
            if is_postgres:
                # One consistent read: the version and the data it describes belong together.
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            return await build(session, tenant_id)

    return build_one
