"""The catalog's pages: the product list with its filters, and the product editor."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from offerengine.catalog import service as catalog
from offerengine.catalog.schemas import ProductRead
from offerengine.deps import context_of
from offerengine.web.pages.layout import PAGE, cursor_pager, render
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)


@router.get("/admin/products")
async def products_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    q: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[str | None, Query(max_length=50)] = None,
    active: Annotated[str | None, Query(pattern="^(|true|false)$")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    where = catalog.ProductFilter(
        product_type=type or None,
        q=q or None,
        active=None if not active else active == "true",
    )
    found = await catalog.browse_products(
        context_of(request), tenant_id=tenant.id, where=where, limit=PAGE, cursor=cursor or None
    )
    filters = {"q": q or "", "type": type or "", "active": active or ""}
    return await render(
        request,
        "products.html",
        visitor,
        tenant=tenant,
        products=[ProductRead.of(p) for p in found.rows],
        types=found.types,
        filters=filters,
        **cursor_pager(filters, found.next_cursor, cursor),
    )


@router.get("/admin/products/new")
async def new_product(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    return await render(request, "product_form.html", visitor, tenant=tenant, product=None)


@router.get("/admin/products/{product_id:uuid}")
async def edit_product(
    request: Request, visitor: Visitor, tenant: PageTenant, product_id: uuid.UUID
) -> Response:
    product = await catalog.read_product(
        context_of(request), tenant_id=tenant.id, product_id=product_id
    )
    return await render(
        request, "product_form.html", visitor, tenant=tenant, product=ProductRead.of(product)
    )
