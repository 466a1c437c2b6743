"""Catalog use cases. Every change records a version and an audit entry and moves the tenant's
configuration version; the unit of work (``offerengine.deps.DbSession``) commits.

Products are a configuration kind (``PRODUCT_KIND``): create, update, delete and history are the
generic ones (:mod:`offerengine.versioning.editing`), the code unique per tenant; theirs is the
preparation of the input (prices in minor units of the product's currency, the tenant's when it
names none), the bulk upsert by code (the same steps, flushed once) and the export."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import bulk
from offerengine.auth.core import Actor
from offerengine.catalog import core
from offerengine.catalog.models import Product
from offerengine.catalog.schemas import ProductCreate, ProductIn, ProductRead, ProductUpdate
from offerengine.db import search
from offerengine.db.session import Sessions
from offerengine.errors import FieldError, Invalid, Loc, NotFound
from offerengine.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor
from offerengine.tenants.models import Tenant
from offerengine.versioning.editing import Editing, read_back
from offerengine.versioning.kinds import ConfigKind, PageRequest


def dump(product: Product) -> dict[str, Any]:
    return ProductRead.of(product).model_dump(mode="json")


def _normalize(data: ProductIn, default_currency: str, loc: Loc = ("body",)) -> core.ProductValues:
    result = core.normalize(data.to_input(), default_currency=default_currency, loc=loc)
    if isinstance(result, list):
        raise Invalid.of(result)
    return result


def _apply(product: Product, values: core.ProductValues) -> None:
    product.product_type = values.product_type
    product.product_code = values.product_code
    product.name = values.name
    product.description = values.description
    product.category = values.category
    product.base_price_minor = values.base_price_minor
    product.currency = values.currency
    product.cost_minor = values.cost_minor
    product.price_floor_minor = values.price_floor_minor
    product.price_ceiling_minor = values.price_ceiling_minor
    product.attributes = dict(values.attributes)
    product.is_active = values.is_active
    product.partner_code = values.partner_code
    product.partner_name = values.partner_name
    product.pricing_unit = values.pricing_unit


def _same(product: Product, values: core.ProductValues) -> bool:
    return (
        product.product_type == values.product_type
        and product.product_code == values.product_code
        and product.name == values.name
        and product.description == values.description
        and product.category == values.category
        and product.base_price_minor == values.base_price_minor
        and product.currency == values.currency
        and product.cost_minor == values.cost_minor
        and product.price_floor_minor == values.price_floor_minor
        and product.price_ceiling_minor == values.price_ceiling_minor
        and product.attributes == dict(values.attributes)
        and product.is_active == values.is_active
        and product.partner_code == values.partner_code
        and product.partner_name == values.partner_name
        and product.pricing_unit == values.pricing_unit
    )


async def _prepare(
    session: AsyncSession, tenant_id: uuid.UUID, data: ProductIn
) -> core.ProductValues:
    """The product as stored: its prices in minor units of its currency, the tenant's when the
    input names none."""
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"No tenant {tenant_id}.")
    return _normalize(data, tenant.base_currency)


EDITING: Editing[Product, core.ProductValues] = Editing(
    name="product",
    what="product",
    model=Product,
    dump=dump,
    apply=_apply,
    same=_same,
    recorded=read_back(ProductRead, ProductCreate),
    title=lambda product: f"product {product.product_code}",
    key=Product.product_code,
    prepare=_prepare,
)
PRODUCT = EDITING.history
create = EDITING.create  # for callers outside HTTP (seeds, tests)


async def get(session: AsyncSession, *, tenant_id: uuid.UUID, product_id: uuid.UUID) -> Product:
    product = await session.scalar(
        sa.select(Product).where(Product.id == product_id, Product.tenant_id == tenant_id)
    )
    if product is None:
        raise NotFound(f"No product {product_id}.")
    return product


async def read_product(
    sessions: Sessions, *, tenant_id: uuid.UUID, product_id: uuid.UUID
) -> Product:
    """:func:`get`, in a session of its own (the admin UI's product editor)."""
    async with sessions.session_factory() as session:
        return await get(session, tenant_id=tenant_id, product_id=product_id)


@dataclass(frozen=True, slots=True)
class ProductFilter:
    product_type: str | None = None
    category: str | None = None
    active: bool | None = None
    q: str | None = None


async def list_products(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    where: ProductFilter,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Product], str | None]:
    """A page of products ordered by code; search ``q`` matches code, name and description."""
    stmt = _filtered(sa.select(Product), tenant_id, where)
    if cursor:
        (after,) = decode_cursor(cursor, 1)
        stmt = stmt.where(Product.product_code > str(after))
    rows = (await session.scalars(stmt.order_by(Product.product_code).limit(limit + 1))).all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor([rows[-1].product_code])


async def count_products(
    session: AsyncSession, *, tenant_id: uuid.UUID, filters: ProductFilter
) -> int:
    """How many products :func:`list_products` finds, all pages together."""
    stmt = _filtered(sa.select(sa.func.count()).select_from(Product), tenant_id, filters)
    return int(await session.scalar(stmt) or 0)


def _filtered(stmt: Any, tenant_id: uuid.UUID, where: ProductFilter) -> Any:
    stmt = stmt.where(Product.tenant_id == tenant_id)
    if where.product_type:
        stmt = stmt.where(Product.product_type == where.product_type)
    if where.category:
        stmt = stmt.where(Product.category == where.category)
    if where.active is not None:
        stmt = stmt.where(Product.is_active == where.active)
    if where.q:
        stmt = stmt.where(
            sa.or_(
                search.contains(Product.product_code, where.q),
                search.contains(Product.name, where.q),
                search.contains(Product.description, where.q),
            )
        )
    return stmt


@dataclass(frozen=True, slots=True)
class ProductPage:
    """A page of products, the cursor of the next, and every product type the tenant has."""

    rows: Sequence[Product]
    next_cursor: str | None
    types: Sequence[str]


async def browse_products(
    sessions: Sessions,
    *,
    tenant_id: uuid.UUID,
    where: ProductFilter,
    limit: int,
    cursor: str | None,
) -> ProductPage:
    """A page of :func:`list_products` with the product types to filter by, in a session of its
    own (the admin UI's product list)."""
    async with sessions.session_factory() as session:
        rows, next_cursor = await list_products(
            session, tenant_id=tenant_id, where=where, limit=limit, cursor=cursor
        )
        types = await session.scalars(
            sa.select(Product.product_type)
            .where(Product.tenant_id == tenant_id)
            .distinct()
            .order_by(Product.product_type)
        )
        return ProductPage(rows, next_cursor, types.all())


async def product_choices(
    sessions: Sessions, tenant_id: uuid.UUID, *, limit: int = 500
) -> Sequence[tuple[uuid.UUID, str, str, str]]:
    """The tenant's products to pick from, by code: id, code, name and type (the admin UI's
    pricing rule editor)."""
    async with sessions.session_factory() as session:
        found = await session.execute(
            sa.select(Product.id, Product.product_code, Product.name, Product.product_type)
            .where(Product.tenant_id == tenant_id)
            .order_by(Product.product_code)
            .limit(limit)
        )
        return found.all()


async def bulk_upsert(
    session: AsyncSession,
    *,
    tenant: Tenant,
    rows: Sequence[Mapping[str, Any]],
    actor: Actor,
    row_errors: Mapping[int, Sequence[FieldError]] | None = None,
) -> bulk.Outcome[Product]:
    """Create or update many products by code, all or nothing (see :mod:`offerengine.bulk`)."""

    def check(parsed: ProductCreate, loc: Loc) -> core.ProductValues | list[FieldError]:
        return core.normalize(parsed.to_input(), default_currency=tenant.base_currency, loc=loc)

    values = bulk.check_rows(
        rows,
        collection="products",
        schema=ProductCreate,
        check=check,
        key=lambda v: v.product_code,
        key_field="product_code",
        row_errors=row_errors,
    )
    return await bulk.upsert(
        session,
        kind=EDITING.history,
        values=values,
        key=lambda v: v.product_code,
        existing=lambda codes: _by_code(session, tenant.id, codes),
        make=lambda: EDITING.instance(tenant.id),
        apply=EDITING.apply,
        same=EDITING.same,
        actor=actor,
    )


async def _by_code(
    session: AsyncSession, tenant_id: uuid.UUID, codes: Sequence[str]
) -> dict[str, Product]:
    found: dict[str, Product] = {}
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        rows = await session.scalars(
            sa.select(Product).where(
                Product.tenant_id == tenant_id, Product.product_code.in_(chunk)
            )
        )
        found.update({p.product_code: p for p in rows})
    return found


async def export(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every product of the tenant in the shape bulk import takes."""
    rows = await session.scalars(
        sa.select(Product).where(Product.tenant_id == tenant_id).order_by(Product.product_code)
    )
    return [ProductRead.of(p).as_input() for p in rows]


async def _listed(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    filters: ProductFilter,
    page: PageRequest | None,
) -> tuple[Sequence[Product], str | None]:
    page = page or PageRequest(DEFAULT_LIMIT)
    return await list_products(
        session, tenant_id=tenant_id, where=filters, limit=page.limit, cursor=page.cursor
    )


# Products as a configuration kind: the standard routes at /v1/admin/…/products, a page at a
# time by code, filtered by type, category, activity and a search.
PRODUCT_KIND: ConfigKind[Product] = ConfigKind(
    history=PRODUCT,
    what="product",
    path="products",
    operation="Product",
    create_schema=ProductCreate,
    update_schema=ProductUpdate,
    read_schema=ProductRead,
    read=ProductRead.of,
    create=EDITING.create,
    update=EDITING.update,
    delete=EDITING.delete,
    list=_listed,
    count=count_products,
)
