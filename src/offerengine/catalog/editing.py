"""Catalog use cases that need more than the objects a route loads: replacing a product's fields
needs its tenant (for the default currency). Beside :mod:`offerengine.catalog.service`, whose
rules they apply; the unit of work (``offerengine.deps.DbSession``) commits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.catalog import service
from offerengine.catalog.models import Product
from offerengine.catalog.schemas import ProductIn
from offerengine.errors import NotFound
from offerengine.tenants.models import Tenant


async def update_product(
    session: AsyncSession,
    *,
    product: Product,
    data: ProductIn,
    actor: Actor,
    expected_version: int | None,
) -> Product:
    """Replace a product's fields (see :func:`offerengine.catalog.service.update`), under its
    tenant's settings."""
    tenant = await session.get(Tenant, product.tenant_id)
    if tenant is None:
        raise NotFound(f"No tenant {product.tenant_id}.")
    return await service.update(
        session,
        product=product,
        tenant=tenant,
        data=data,
        actor=actor,
        expected_version=expected_version,
    )
