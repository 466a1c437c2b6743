"""The dashboard: offers shown and ordered, decisions and caps, the coming flights' load,
commission of stored quotes, and the running experiments' lift."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from offerengine.decisioning import figures as decisioning_figures
from offerengine.deps import context_of
from offerengine.inventory import overview
from offerengine.shopping import figures as shopping_figures
from offerengine.tenants.models import Tenant
from offerengine.web import dashboards
from offerengine.web.pages.layout import render
from offerengine.web.resources import api_get
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)


@router.get("/admin")
async def dashboard(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    ctx = context_of(request)
    span = dashboards.last_days(14)
    offers = dashboards.offer_performance(
        await shopping_figures.offer_figures(ctx, tenant.id, span[0]), span, tenant.base_currency
    )
    decisions = dashboards.decisioning(
        await decisioning_figures.decision_figures(ctx, tenant.id, span[0]), span
    )
    decisions.tables["caps"] = dashboards.cap_usage(
        await decisioning_figures.cap_usage(ctx, tenant.id)
    )
    stock = dashboards.inventory(await overview.seat_load(ctx, tenant.id))
    reports = [
        await api_get(request, "/v1/analytics/commission", group_by=group)
        for group in ("day", "category", "seller")
    ]
    commission = dashboards.commission_charts(*(r.data if r.ok else None for r in reports))
    return await render(
        request,
        "dashboard.html",
        visitor,
        tenant=tenant,
        offers=offers,
        decisions=decisions,
        stock=stock,
        commission=commission,
        experiments=await _running_experiments(request, tenant),
    )


async def _running_experiments(request: Request, tenant: Tenant) -> list[dict[str, Any]]:
    """Up to three running experiments, each with its results and their lift chart."""
    experiments: list[dict[str, Any]] = []
    running = await api_get(request, f"/v1/admin/tenants/{tenant.code}/experiments")
    for experiment in (running.data or {}).get("items", []) if running.ok else []:
        if experiment.get("status") != "running" or len(experiments) == 3:
            continue
        results = await api_get(request, f"/v1/experiments/{experiment['id']}/results")
        if results.ok:
            experiments.append(
                {
                    "item": experiment,
                    "results": results.data,
                    "chart": dashboards.lift_chart(results.data),
                }
            )
    return experiments
