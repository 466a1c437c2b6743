"""Campaign results: each campaign's budget and grants, and one campaign's measured uplift with
its plots (conversion of the treated against the held out with the 95% interval of the
difference, and the uplift model's predicted against realised uplift by decile). The campaigns
themselves are edited on the generic Campaigns pages (``web.resources``)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from offerengine.web.dashboards import PALETTE
from offerengine.web.pages.layout import render
from offerengine.web.resources import api_get
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def conversion_chart(measured: dict[str, Any]) -> dict[str, Any]:
    """Conversion of each arm (bars), and the incremental conversion with its 95% interval (a
    point and a floating bar), in percent."""
    conversion = measured["conversion"]
    incremental = conversion["incremental"]
    interval = (
        [_percent(incremental["low"]), _percent(incremental["high"])]
        if incremental["low"] is not None
        else None
    )
    return {
        "type": "bar",
        "data": {
            "labels": ["treated", "held out", "incremental"],
            "datasets": [
                {
                    "label": "conversion %",
                    "data": [
                        _percent(conversion["treated"]),
                        _percent(conversion["holdout"]),
                        None,
                    ],
                    "backgroundColor": [PALETTE[0], PALETTE[1], PALETTE[0]],
                },
                {
                    "label": "95% interval of the difference",
                    "data": [None, None, interval],
                    "backgroundColor": "rgba(37, 99, 235, 0.35)",
                    "borderColor": PALETTE[0],
                    "borderWidth": 1,
                },
                {
                    "type": "line",
                    "label": "incremental conversion %",
                    "data": [None, None, _percent(incremental["estimate"])],
                    "showLine": False,
                    "pointRadius": 6,
                    "borderColor": PALETTE[3],
                    "backgroundColor": PALETTE[3],
                },
            ],
        },
        "options": {"scales": {"y": {"title": {"display": True, "text": "% of members"}}}},
    }


def deciles_chart(measured: dict[str, Any]) -> dict[str, Any]:
    """The uplift model's mean predicted uplift per decile beside the realised one (treated −
    held-out conversion), in percentage points."""
    deciles = measured["deciles"]
    return {
        "type": "bar",
        "data": {
            "labels": [f"decile {d['decile']}" for d in deciles],
            "datasets": [
                {
                    "label": "predicted uplift (points)",
                    "data": [_percent(d["predicted"]) for d in deciles],
                    "backgroundColor": PALETTE[0],
                },
                {
                    "label": "realised uplift (points)",
                    "data": [_percent(d["realised"]) for d in deciles],
                    "backgroundColor": PALETTE[1],
                },
            ],
        },
        "options": {
            "scales": {
                "y": {"title": {"display": True, "text": "percentage points"}},
                "x": {"title": {"display": True, "text": "by predicted uplift, highest first"}},
            }
        },
    }


@router.get("/admin/campaign-results")
async def campaign_results_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    """Each campaign with its dates, budget and a link to its measured uplift."""
    found = await api_get(request, f"/v1/admin/tenants/{tenant.code}/campaigns")
    return await render(
        request,
        "campaign_results.html",
        visitor,
        tenant=tenant,
        rows=found.listed(),
        problem=found.problem,
    )


@router.get("/admin/campaigns/{campaign_id}/measurement")
async def campaign_measurement_page(
    request: Request, visitor: Visitor, tenant: PageTenant, campaign_id: uuid.UUID
) -> Response:
    """One campaign's measurement, with its plots; its promotions' uplift model versions
    with their Qini (retrained from its outcomes, which serves); its delivery log, with the
    selections' exports per channel. An editor gets two actions, forms that POST to the API
    with the session's CSRF token: "Retrain now" (``…/retrain``) and "Send deliveries"
    (``…/deliver``: a channel, a webhook, a batch size)."""
    campaign = await api_get(request, f"/v1/admin/campaigns/{campaign_id}")
    measured = await api_get(request, f"/v1/admin/campaigns/{campaign_id}/measurement")
    data = measured.data if measured.ok else None
    models: dict[str, list[dict[str, Any]]] = {}
    for code in campaign.data.get("promotions", []) if campaign.ok else []:
        versions = await api_get(
            request, f"/v1/admin/tenants/{tenant.code}/promotions/{quote(code, safe='')}/models"
        )
        models[code] = versions.data if versions.ok else []
    deliveries = await api_get(request, f"/v1/admin/campaigns/{campaign_id}/deliveries")
    return await render(
        request,
        "campaign_measurement.html",
        visitor,
        tenant=tenant,
        campaign=campaign.data if campaign.ok else None,
        measured=data,
        charts=None
        if data is None
        else {"conversion": conversion_chart(data), "deciles": deciles_chart(data)},
        models=models,
        deliveries=deliveries.data if deliveries.ok else [],
        problem=campaign.problem or measured.problem,
    )
