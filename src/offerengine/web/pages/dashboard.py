"""The dashboard, by tenant kind: an airline's offers shown and ordered and the coming flights'
load; a marketplace's quotes, their conversion and commission; for both, decisions and caps
and the running experiments' lift."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from offerengine.decisioning import figures as decisioning_figures
from offerengine.deps import context_of
from offerengine.inventory import overview
from offerengine.shopping import figures as shopping_figures
from offerengine.tenants.models import Tenant
from offerengine.web import dashboards
from offerengine.web.pages.layout import render, zone_of
from offerengine.web.resources import api_get
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)
DAYS = 14  # the span of the dashboard's daily figures, today included


@router.get("/admin")
async def dashboard(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    """What applies to the tenant's kind: an airline's offers, orders, revenue and load
    factor; a marketplace's (or a retailer's) quotes, their conversion and commission; for
    both, decisioning and the running experiments."""
    ctx = context_of(request)
    span = dashboards.last_days(DAYS)
    airline = tenant.kind == "airline"
    sections: dict[str, Any] = {}
    if airline:
        sections["offers"] = dashboards.offer_performance(
            await shopping_figures.offer_figures(ctx, tenant.id, span[0]),
            span,
            tenant.base_currency,
        )
        sections["stock"] = dashboards.inventory(await overview.seat_load(ctx, tenant.id))
    else:
        # The report's days are the tenant's (run time's records count UTC days).
        zone = zone_of(tenant)
        local_span = dashboards.last_days(DAYS, zone)
        since = datetime.combine(local_span[0], time(0), tzinfo=zone).isoformat()
        reports = [
            await api_get(request, "/v1/analytics/commission", group_by=group, **{"from": since})
            for group in ("day", "category", "seller")
        ]
        by_day, by_category, by_seller = (r.data if r.ok else None for r in reports)
        sections["quotes"] = dashboards.quotes_and_commission(
            by_day, by_category, by_seller, span=local_span
        )
    decisions = dashboards.decisioning(
        await decisioning_figures.decision_figures(ctx, tenant.id, span[0]), span
    )
    decisions.tables["caps"] = dashboards.cap_usage(
        await decisioning_figures.cap_usage(ctx, tenant.id)
    )
    return await render(
        request,
        "dashboard.html",
        visitor,
        tenant=tenant,
        airline=airline,
        days=DAYS,
        decisions=decisions,
        experiments=await _running_experiments(request, tenant),
        **sections,
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
