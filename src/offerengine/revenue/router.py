"""Revenue management's admin routes: fare family sets (a configuration kind), and a flight's
forecasts, limits and bid prices beside the flight (``/v1/admin/flights/{id}/revenue``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from offerengine.auth.deps import ConfigReader, ConfigWriter
from offerengine.auth.scoping import owned_loader
from offerengine.clock import utcnow
from offerengine.deps import DbSession
from offerengine.http.routing import router
from offerengine.inventory.models import Flight
from offerengine.revenue import flights
from offerengine.revenue.schemas import FlightRevenueRead
from offerengine.revenue.service import FARE_FAMILY_SET_KIND
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes

api = router(tags=["revenue management"])
PathFlight = Annotated[Flight, Depends(owned_loader(Flight, "flight"))]


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
