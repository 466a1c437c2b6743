"""The playgrounds, pages that try the run-time API from the browser: shop and decide (the quote
builder is :mod:`offerengine.web.pages.quote_builder`); and
the learning pages that show what run time learned: the bandits' models and their offline
report, and the promotions' usage."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from offerengine.decisioning import figures as decisioning_figures
from offerengine.deps import context_of
from offerengine.inventory import overview
from offerengine.learning.policy import SHOP
from offerengine.shopping import core as shopping
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
        fare_families=family_choices(snapshot.shopping.fare_families),
    )


def family_choices(families: shopping.FareFamilies) -> list[dict[str, str]]:
    """Each fare family code the tenant sells, once, with its name and where it is sold."""
    found: dict[str, dict[str, str]] = {}
    for (cabin, route), sold in sorted(
        families.sets.items(), key=lambda s: (s[0][0], s[0][1] or "")
    ):
        for family in sold.families:
            where = f"{cabin.lower().replace('_', ' ')} {route or 'every route'}"
            if family.code in found:
                found[family.code]["where"] += f", {where}"
            else:
                found[family.code] = {"code": family.code, "name": family.name, "where": where}
    return list(found.values())


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
