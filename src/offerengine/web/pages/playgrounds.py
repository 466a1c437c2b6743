"""The playgrounds, pages that try the run-time API from the browser: shop, decide and quote; and
the learning pages that show what run time learned: the bandits' models and their offline
report, and the promotions' usage."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from offerengine.decisioning import figures as decisioning_figures
from offerengine.deps import context_of
from offerengine.inventory import overview
from offerengine.learning.policy import SHOP
from offerengine.web.pages.layout import render
from offerengine.web.resources import api_get
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)


@router.get("/admin/shop")
async def shop_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    ctx = context_of(request)
    snapshot = await ctx.snapshots.get(tenant.id)
    return await render(
        request,
        "shop.html",
        visitor,
        tenant=tenant,
        airports=sorted(snapshot.network.airports),
        routes=await overview.coming_routes(ctx, tenant.id),
    )


@router.get("/admin/models")
async def models_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    """The contextual bandits' model versions, with a training round and restores."""
    found = await api_get(request, f"/v1/admin/tenants/{tenant.code}/models")
    names = dict(await decisioning_figures.activity_names(context_of(request), tenant.id))
    names[str(SHOP)] = "shop (offer types' conversion)"
    rows = found.listed()
    for row in rows:
        row["activity"] = names.get(row["activity_id"], row["activity_id"])
    return await render(
        request,
        "models.html",
        visitor,
        tenant=tenant,
        rows=rows,
        problem=found.problem,
    )


@router.get("/admin/models/report")
async def models_report_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    """Each bandit line judged offline on its logs: IPS, SNIPS, direct method and doubly robust
    with intervals, beside what was served; a shadow's agreement."""
    found = await api_get(request, f"/v1/admin/tenants/{tenant.code}/models/report")
    lines = found.listed("lines")
    return await render(
        request,
        "models_report.html",
        visitor,
        tenant=tenant,
        lines=lines,
        problem=found.problem,
    )


@router.get("/admin/promotion-usage")
async def promotion_usage_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    """Each promotion's budget spent, grants per product against its stock, and its uplift
    model's held-out Qini beside random targeting's."""
    found = await api_get(request, f"/v1/admin/tenants/{tenant.code}/promotions/usage")
    rows = found.listed(None)
    return await render(
        request,
        "promotion_usage.html",
        visitor,
        tenant=tenant,
        rows=rows,
        problem=found.problem,
    )


@router.get("/admin/decide")
async def decide_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    activities = await decisioning_figures.activity_names(
        context_of(request), tenant.id, approved=True
    )
    return await render(
        request,
        "decide.html",
        visitor,
        tenant=tenant,
        activities=[{"id": i, "name": n} for i, n in activities],
    )


SAMPLE_BASKET: dict[str, Any] = {
    "customer_id": "cust-42",
    "seller_id": "seller-techstore",
    "items": [
        {
            "product_id": "ELEC-PHONE-CASE",
            "variant_id": "black",
            "quantity": 2,
            "unit_price": 149.90,
            "category_id": "electronics",
            "tags": ["electronics", "mobile"],
            "weight": 0.1,
        }
    ],
    "delivery_address": {
        "street": "Istiklal Caddesi 123",
        "city": "Istanbul",
        "district": "Beyoglu",
        "country": "TR",
        "latitude": 41.0082,
        "longitude": 28.9784,
    },
    "pickup_address": {
        "street": "Seller Address",
        "city": "Istanbul",
        "district": "Kadikoy",
        "country": "TR",
        "latitude": 41.0186,
        "longitude": 29.0023,
    },
    "is_express_delivery": True,
    "coupon_codes": ["SAVE20"],
    "currency": "TRY",
}


@router.get("/admin/quote")
async def quote_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    basket = dict(SAMPLE_BASKET, currency=tenant.base_currency)
    return await render(
        request,
        "quote.html",
        visitor,
        tenant=tenant,
        basket=basket,
    )
