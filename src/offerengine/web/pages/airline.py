"""The airline's flight pages: the flights, filtered by route and date, and one flight with its
seats and, per cabin, its booking curve with the forecast band and its fare families' limits;
and the booking simulator's comparison of policies. (Its offer rules and fare settings are
documents: :mod:`.documents`.)"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from offerengine.web import revenue_charts
from offerengine.web.pages.layout import PAGE, not_found, pager, render
from offerengine.web.resources import api_get
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)


@router.get("/admin/flights")
async def flights_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    origin: Annotated[str | None, Query(max_length=3)] = None,
    destination: Annotated[str | None, Query(max_length=3)] = None,
    date: Annotated[str | None, Query(max_length=10)] = None,
    page: Annotated[int, Query(ge=1, le=40)] = 1,
) -> Response:
    filters = {
        "origin": (origin or "").upper(),
        "destination": (destination or "").upper(),
        "date": date or "",
    }
    # The API lists up to 1,000 flights in departure order; the page shows them PAGE at a time.
    found = await api_get(
        request, f"/v1/admin/tenants/{tenant.code}/flights", limit=1000, **filters
    )
    flights = found.data["items"] if found.ok else []
    shown = flights[(page - 1) * PAGE : page * PAGE]
    more = len(flights) > page * PAGE
    return await render(
        request,
        "flights.html",
        visitor,
        tenant=tenant,
        filters=filters,
        flights=shown,
        total=len(flights),
        problem=None if found.ok else found,
        **pager(filters, ("page", page + 1) if more else None, page > 1),
    )


@router.get("/admin/flights/{flight_id:uuid}")
async def flight_page(
    request: Request, visitor: Visitor, tenant: PageTenant, flight_id: uuid.UUID
) -> Response:
    flight = await api_get(request, f"/v1/admin/flights/{flight_id}")
    if not flight.ok:
        return await not_found(request, visitor, tenant, flight.detail or f"No flight {flight_id}.")
    stock = await api_get(request, f"/v1/inventory/flights/{flight_id}")
    revenue = await api_get(request, f"/v1/admin/flights/{flight_id}/revenue")
    cabins = [
        {
            **cabin,
            "curve_chart": revenue_charts.booking_curve(cabin),
            "limits_chart": revenue_charts.limits(cabin),
        }
        for cabin in (revenue.data["cabins"] if revenue.ok else [])
    ]
    return await render(
        request,
        "flight.html",
        visitor,
        tenant=tenant,
        flight=flight.data,
        stock=stock.data if stock.ok else None,
        stock_problem=None if stock.ok else stock.detail,
        cabins=cabins,
        revenue_problem=None if revenue.ok else revenue.detail,
    )


@router.get("/admin/revenue/simulator")
async def simulator_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    departures: Annotated[int, Query(ge=1, le=100)] = 20,
    seed: Annotated[int, Query(ge=0, le=2**31)] = 1,
) -> Response:
    """The demonstration route under first come, first served, EMSR-b limits and EMSR-b with
    learned prices, side by side (what ``offerengine simulate-bookings`` prints)."""
    from offerengine.revenue.core import simulation

    compared = await asyncio.to_thread(
        simulation.compare, simulation.DEMO, departures=departures, history=40, seed=seed
    )
    return await render(
        request,
        "simulator.html",
        visitor,
        tenant=tenant,
        departures=departures,
        seed=seed,
        scenario=simulation.DEMO,
        compared=compared,
        comparison_chart=revenue_charts.comparison(compared.outcomes),
    )
