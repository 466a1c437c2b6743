"""Catalog use cases. Every change records a version and an audit entry and moves the tenant's
configuration version; the unit of work (``offerengine.deps.DbSession``) commits."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.catalog import core
from offerengine.catalog.models import Product
from offerengine.catalog.schemas import BulkRowError, ProductCreate, ProductIn, ProductRead
from offerengine.errors import Conflict, FieldError, Invalid, Loc, NotFound
from offerengine.pagination import decode_cursor, encode_cursor
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning


def dump(product: Product) -> dict[str, Any]:
    return ProductRead.of(product).model_dump(mode="json")


async def _restore(
    session: AsyncSession, product: Product | None, data: Mapping[str, Any], tenant_id: uuid.UUID
) -> Product:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"No tenant {tenant_id}")
    recorded = ProductCreate.model_validate(ProductRead.model_validate(data).as_input())
    values = _normalize(recorded, tenant.base_currency)
    target = product if product is not None else Product(tenant_id=tenant_id)
    exclude = product.id if product is not None else uuid.UUID(str(data["id"]))
    await _ensure_code_free(session, tenant_id, values.product_code, exclude=exclude)
    _apply(target, values)
    return target


PRODUCT: versioning.Kind[Product] = versioning.Kind(
    name="product", model=Product, dump=dump, restore=_restore
)


def _normalize(data: ProductIn, default_currency: str, loc: Loc = ("body",)) -> core.ProductValues:
    result = core.normalize(data.to_input(), default_currency=default_currency, loc=loc)
    if isinstance(result, list):
        first = result[0]
        raise Invalid(f"{'.'.join(map(str, first.loc))}: {first.msg}", result)
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
    product.attributes = dict(values.attributes)
    product.is_active = values.is_active


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
        and product.attributes == dict(values.attributes)
        and product.is_active == values.is_active
    )


async def _ensure_code_free(
    session: AsyncSession, tenant_id: uuid.UUID, code: str, *, exclude: uuid.UUID | None = None
) -> None:
    stmt = sa.select(Product.id).where(Product.tenant_id == tenant_id, Product.product_code == code)
    if exclude is not None:
        stmt = stmt.where(Product.id != exclude)
    other = await session.scalar(stmt)
    if other is not None:
        raise Conflict.field(
            ("body", "product_code"), f"product_code {code!r} is already used by product {other}"
        )


async def get(session: AsyncSession, *, tenant_id: uuid.UUID, product_id: uuid.UUID) -> Product:
    product = await session.scalar(
        sa.select(Product).where(Product.id == product_id, Product.tenant_id == tenant_id)
    )
    if product is None:
        raise NotFound(f"No product {product_id}.")
    return product


@dataclass(frozen=True, slots=True)
class ProductFilter:
    product_type: str | None = None
    category: str | None = None
    active: bool | None = None
    q: str | None = None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_products(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    where: ProductFilter,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Product], str | None]:
    """A page of products ordered by code; search ``q`` matches code, name and description."""
    stmt = sa.select(Product).where(Product.tenant_id == tenant_id)
    if where.product_type:
        stmt = stmt.where(Product.product_type == where.product_type)
    if where.category:
        stmt = stmt.where(Product.category == where.category)
    if where.active is not None:
        stmt = stmt.where(Product.is_active == where.active)
    if where.q:
        pattern = _like(where.q)
        stmt = stmt.where(
            sa.or_(
                Product.product_code.ilike(pattern, escape="\\"),
                Product.name.ilike(pattern, escape="\\"),
                Product.description.ilike(pattern, escape="\\"),
            )
        )
    if cursor:
        (after,) = decode_cursor(cursor, 1)
        stmt = stmt.where(Product.product_code > str(after))
    rows = (await session.scalars(stmt.order_by(Product.product_code).limit(limit + 1))).all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor([rows[-1].product_code])


async def create(
    session: AsyncSession, *, tenant: Tenant, data: ProductCreate, actor: Actor
) -> Product:
    values = _normalize(data, tenant.base_currency)
    await _ensure_code_free(session, tenant.id, values.product_code)
    product = Product(tenant_id=tenant.id)
    _apply(product, values)
    session.add(product)
    await versioning.record(session, PRODUCT, product, action="create", actor=actor, before=None)
    return product


async def update(
    session: AsyncSession,
    *,
    product: Product,
    tenant: Tenant,
    data: ProductIn,
    actor: Actor,
    expected_version: int | None,
) -> Product:
    """Replace a product's fields; an identical replacement makes no new version."""
    versioning.check_version(product, expected_version, f"product {product.product_code}")
    values = _normalize(data, tenant.base_currency)
    if _same(product, values):
        return product
    if values.product_code != product.product_code:
        await _ensure_code_free(session, tenant.id, values.product_code, exclude=product.id)
    before = dump(product)
    _apply(product, values)
    await versioning.record(session, PRODUCT, product, action="update", actor=actor, before=before)
    return product


async def delete(
    session: AsyncSession, *, product: Product, actor: Actor, expected_version: int | None
) -> None:
    versioning.check_version(product, expected_version, f"product {product.product_code}")
    await versioning.delete(session, PRODUCT, product, actor=actor)


@dataclass
class BulkOutcome:
    created: list[Product] = field(default_factory=list)
    updated: list[Product] = field(default_factory=list)
    unchanged: list[Product] = field(default_factory=list)


async def bulk_upsert(
    session: AsyncSession,
    *,
    tenant: Tenant,
    rows: Sequence[Mapping[str, Any]],
    actor: Actor,
    row_errors: Mapping[int, Sequence[FieldError]] | None = None,
) -> BulkOutcome:
    """Create or update many products by code, all or nothing.

    Every row is checked before anything is written; if any row is bad, nothing changes and the
    :class:`Invalid` error lists each bad row with all of its errors.
    """
    problems: dict[int, list[FieldError]] = {i: list(e) for i, e in (row_errors or {}).items()}
    accepted: list[tuple[int, core.ProductValues]] = []
    first_row_of: dict[str, int] = {}
    for index, row in enumerate(rows):
        loc: Loc = ("products", index)
        try:
            parsed = ProductCreate.model_validate(row)
        except ValidationError as exc:
            problems.setdefault(index, []).extend(
                FieldError((*loc, *err["loc"]), err["msg"], err["type"]) for err in exc.errors()
            )
            continue
        result = core.normalize(parsed.to_input(), default_currency=tenant.base_currency, loc=loc)
        if isinstance(result, list):
            problems.setdefault(index, []).extend(result)
            continue
        earlier = first_row_of.setdefault(result.product_code, index)
        if earlier != index:
            problems.setdefault(index, []).append(
                FieldError((*loc, "product_code"), f"repeats row {earlier + 1}")
            )
            continue
        accepted.append((index, result))
    if problems:
        raise _bulk_error(rows, problems)

    existing = await _by_code(session, tenant.id, [values.product_code for _, values in accepted])
    outcome = BulkOutcome()
    befores: dict[int, dict[str, Any]] = {}
    for _, values in accepted:
        product = existing.get(values.product_code)
        if product is None:
            product = Product(tenant_id=tenant.id)
            _apply(product, values)
            session.add(product)
            outcome.created.append(product)
        elif _same(product, values):
            outcome.unchanged.append(product)
        else:
            befores[id(product)] = dump(product)
            _apply(product, values)
            versioning.bump(product)
            outcome.updated.append(product)
    await session.flush()
    for product in outcome.created:
        versioning.record_flushed(
            session, PRODUCT, product, action="create", actor=actor, before=None
        )
    for product in outcome.updated:
        versioning.record_flushed(
            session, PRODUCT, product, action="update", actor=actor, before=befores[id(product)]
        )
    return outcome


def _bulk_error(
    rows: Sequence[Mapping[str, Any]], problems: Mapping[int, Sequence[FieldError]]
) -> Invalid:
    flat = [err for index in sorted(problems) for err in problems[index]]
    report = [
        BulkRowError(
            row=index + 1,
            product_code=_code_of(rows[index]) if index < len(rows) else None,
            errors=[err.as_dict() for err in problems[index]],
        ).model_dump()
        for index in sorted(problems)
    ]
    return Invalid(
        f"{len(problems)} of {len(rows)} rows have errors; nothing was imported.", flat, rows=report
    )


def _code_of(row: Mapping[str, Any]) -> str | None:
    code = row.get("product_code")
    return code if isinstance(code, str) else None


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
