"""The dashboard, by tenant kind, over the date range its URL asks for: an airline's offers shown
and ordered and the coming flights' load; a marketplace's quotes, their conversion, commission and
coupon usage; for both, decisions and caps and the running experiments' lift."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from offerengine.commerce import figures as commerce_figures
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


@router.get("/admin")
async def dashboard(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    """What applies to the tenant's kind over the range the URL asks for (``days``: 7, 30 or
    90 up to today; or ``from`` and ``to``): an airline's offers, conversion by offer type,
    revenue and load factor; a marketplace's (or a retailer's) quotes, their conversion,
    commission and coupon usage; for both, decisioning and the running experiments. A bad
    range is a 400 page that says what is wrong, showing the default range."""
    ctx = context_of(request)
    zone = zone_of(tenant)
    airline = tenant.kind == "airline"
    # An airline's figures are counted by UTC day (run time's records), a marketplace's quotes
    # by the tenant's day: "today" is the day its main figures count.
    today = datetime.now(UTC if airline else zone).date()
    problem: dashboards.BadRange | None = None
    try:
        span = dashboards.choose_span(request.query_params, today)
    except dashboards.BadRange as bad:
        problem = bad
        span = dashboards.choose_span({}, today)
    days = span.days
    # Decisions count UTC days: a range up to today takes every decision made since its start.
    utc_last = None if span.last == today else span.last
    sections: dict[str, Any] = {}
    if airline:
        sections["offers"] = dashboards.offer_performance(
            await shopping_figures.offer_figures(ctx, tenant.id, span.first, utc_last),
            days,
            tenant.base_currency,
        )
        sections["stock"] = dashboards.inventory(await overview.seat_load(ctx, tenant.id))
    else:
        # The report's days are the tenant's (run time's records count UTC days).
        since = datetime.combine(span.first, time(0), tzinfo=zone)
        until = datetime.combine(span.last + timedelta(days=1), time(0), tzinfo=zone)
        window = {"from": since.isoformat(), "to": until.isoformat()}
        reports = [
            await api_get(request, "/v1/analytics/commission", group_by=group, **window)
            for group in ("day", "category", "seller")
        ]
        by_day, by_category, by_seller = (r.data if r.ok else None for r in reports)
        sections["quotes"] = dashboards.quotes_and_commission(
            by_day, by_category, by_seller, span=days
        )
        sections["coupons"] = dashboards.coupon_usage(
            await commerce_figures.coupon_figures(ctx, tenant.id, span.first, span.last), days
        )
    decisions = dashboards.decisioning(
        await decisioning_figures.decision_figures(ctx, tenant.id, span.first, utc_last), days
    )
    decisions.tables["caps"] = dashboards.cap_usage(
        await decisioning_figures.cap_usage(ctx, tenant.id)
    )
    response = await render(
        request,
        "dashboard.html",
        visitor,
        tenant=tenant,
        airline=airline,
        span=span,
        period=_period(span),
        presets=dashboards.PRESETS,
        today=today.isoformat(),
        problem=problem,
        decisions=decisions,
        experiments=await _running_experiments(request, tenant),
        **sections,
    )
    if problem is not None:
        response.status_code = 400
    return response


def _period(span: dashboards.Span) -> str:
    """The span in words, for the headings and empty states."""
    if span.preset is not None:
        return f"the last {span.preset} days"
    if span.first == span.last:
        return f"{span.first.isoformat()}"
    return f"{span.first.isoformat()} to {span.last.isoformat()}"


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
