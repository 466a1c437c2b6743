"""Revenue management's admin routes: fare family sets (a configuration kind), and a flight's
forecasts, limits and bid prices beside the flight (``/v1/admin/flights/{id}/revenue``)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends

from offerengine.auth.deps import ConfigReader, ConfigWriter
from offerengine.auth.scoping import owned_loader
from offerengine.clock import utcnow
from offerengine.deps import DbSession
from offerengine.http.routing import router
from offerengine.inventory.models import Flight
from offerengine.revenue import flights, price_points
from offerengine.revenue.models import PricePointPolicy
from offerengine.revenue.price_points import PRICE_POINT_POLICY_KIND
from offerengine.revenue.schemas import FlightRevenueRead, SimulateIn, SimulationRead
from offerengine.revenue.service import FARE_FAMILY_SET_KIND
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes

api = router(tags=["revenue management"])
PathFlight = Annotated[Flight, Depends(owned_loader(Flight, "flight"))]
PathPolicy = Annotated[
    PricePointPolicy, Depends(owned_loader(PricePointPolicy, "price-point policy"))
]


@api.get("/v1/admin/flights/{id:uuid}/revenue", operation_id="getFlightRevenue")
async def get_flight_revenue(
    flight: PathFlight, _: ConfigReader, session: DbSession
) -> FlightRevenueRead:
    """Per cabin: the stored forecast of the demand still to come per fare family, the seats
    protected for the families above each, their nested booking limits and the bid price, with
    the inputs' version and the model's error on held-out departures; or `forecast: null` and
    why. And the booking curve so far, per booking period and family."""
    return await flights.flight_revenue(session, flight, today=utcnow().date())


@api.post("/v1/admin/flights/{id:uuid}/revenue/forecast", operation_id="forecastFlightRevenue")
async def forecast_flight_revenue(
    flight: PathFlight, _: ConfigWriter, session: DbSession
) -> FlightRevenueRead:
    """Forecast the flight's route now (each cabin's market, every flight of it yet to leave),
    store it, and answer the flight's revenue with what the run did."""
    return await flights.forecast_flight(session, flight, now=utcnow())


add_kind_routes(
    api,
    FARE_FAMILY_SET_KIND,
    docs=RouteDocs(
        create="A cabin's fare families, nested highest first, on one route or on every route "
        "without a set of its own; each family's fare is a multiple of the cabin's fare.",
    ),
)


@api.post(
    "/v1/admin/price-point-policies/{id:uuid}/simulate",
    operation_id="simulatePricePointPolicy",
)
async def simulate_price_point_policy(
    policy: PathPolicy, _: ConfigReader, request: SimulateIn | None = None
) -> SimulationRead:
    """The policy's report on a simulated route (the body's scenario, or the demonstration
    route): revenue and load factor per departure of first come, first served, EMSR-b limits,
    and EMSR-b with prices learnt among this policy's points, on the same customers; and the
    off-policy estimate (self-normalised IPS, 95 % interval) of the learned prices against the
    rules' prices per customer shown, from the logged choices. Changes nothing."""
    # Seconds of numpy on a worker thread: the event loop serves the other requests meanwhile.
    return await asyncio.to_thread(price_points.simulate, policy, request or SimulateIn())


add_kind_routes(
    api,
    PRICE_POINT_POLICY_KIND,
    docs=RouteDocs(
        create="A cabin's learned prices, on one route or on every route without a policy of "
        "its own: the multiples of the rules' price a bandit chooses among, the largest step "
        "between two choices, and whether it serves (live) or only logs (shadow).",
    ),
)
