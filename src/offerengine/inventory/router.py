"""Flights, schedules, availability and inventory rules."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Response, status
from pydantic import BaseModel

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor
from offerengine.auth.scoping import owned_loader
from offerengine.deps import DbSession
from offerengine.errors import MalformedInput
from offerengine.fields import IsoDate
from offerengine.http.body import documented, raw_body, validate
from offerengine.http.routing import router
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.inventory import rules, service
from offerengine.inventory.models import Flight
from offerengine.inventory.schemas import (
    AvailabilityRead,
    FlightBatch,
    FlightIn,
    FlightRead,
    FlightsCreated,
    ScheduleIn,
)
from offerengine.pagination import Page
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes

api = router(tags=["flights and inventory"])
TENANT = "/v1/admin/tenants/{tenant}"
PathFlight = Annotated[Flight, Depends(owned_loader(Flight, "flight"))]
documented(FlightIn)
documented(FlightBatch)
_FLIGHTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/FlightIn"},
                        {"type": "array", "items": {"$ref": "#/components/schemas/FlightIn"}},
                        {"$ref": "#/components/schemas/FlightBatch"},
                    ]
                }
            }
        },
    }
}


@api.post(
    f"{TENANT}/flights",
    status_code=status.HTTP_201_CREATED,
    operation_id="addFlights",
    openapi_extra=_FLIGHTS_BODY,
)
async def add_flights(
    _: ConfigWriter,
    body: Annotated[bytes, Depends(raw_body)],
    tenant: PathTenant,
    actor: CurrentActor,
    session: DbSession,
) -> FlightsCreated:
    """Add one flight (an object), or many (a list, or `{"flights": [...]}`), all or none.
    A flight with the same carrier, number and date as one stored is skipped."""
    # The body is a dependency before the tenant's: read before the unit of work takes a
    # connection (and, on SQLite, the write lock), however slowly the client sends it.
    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedInput.field(("body",), "not valid JSON") from exc
    if isinstance(data, dict) and "flights" not in data:
        flights = [validate(FlightIn, data)]
        loc_of: Any = lambda _: ("body",)  # noqa: E731
    else:
        flights = validate(
            FlightBatch, {"flights": data} if isinstance(data, list) else data
        ).flights
        loc_of = lambda i: ("body", "flights", i)  # noqa: E731
    created = await service.add_flights(
        session, tenant=tenant, flights=flights, actor=actor, loc_of=loc_of
    )
    return FlightsCreated(
        created=len(created.flights),
        skipped=created.skipped,
        items=[FlightRead.of(f) for f in created.flights],
    )


@api.post(f"{TENANT}/schedules", status_code=status.HTTP_201_CREATED, operation_id="addSchedule")
async def add_schedule(
    tenant: PathTenant, body: ScheduleIn, _: ConfigWriter, actor: CurrentActor, session: DbSession
) -> FlightsCreated:
    """A recurring flight: one flight per matching day of week between the dates (local times at
    each airport, daylight saving included)."""
    schedule_id, created = await service.add_schedule(
        session, tenant=tenant, schedule=body, actor=actor
    )
    return FlightsCreated(
        created=len(created.flights),
        skipped=created.skipped,
        schedule_id=schedule_id,
        items=[FlightRead.of(f) for f in created.flights],
    )


@api.get(f"{TENANT}/flights", operation_id="listFlights")
async def list_flights(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    origin: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    destination: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    date: Annotated[IsoDate | None, Query(description="Local departure date.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page[FlightRead]:
    """Flights in departure order, filtered by route and date."""
    rows = await service.list_flights(
        session, tenant_id=tenant.id, origin=origin, destination=destination, day=date, limit=limit
    )
    return Page[FlightRead](items=[FlightRead.of(f) for f in rows], next_cursor=None)


@api.get("/v1/admin/flights/{id:uuid}", operation_id="getFlight")
async def get_flight(flight: PathFlight, _: ConfigReader) -> FlightRead:
    return FlightRead.of(flight)


# --- availability (run time) -----------------------------------------------------------------------

runtime = RuntimeRouter(tags=["run time"])


class FlightPath(BaseModel):
    id: uuid.UUID


@runtime.get(
    "/v1/inventory/flights/{id:uuid}",
    operation_id="getFlightAvailability",
    params=FlightPath,
    response=AvailabilityRead,
)
async def flight_availability(call: Call, params: FlightPath) -> Response:
    """Live counters of a flight: each cabin, and each limited product on it (per flight, or the
    origin's airport-day for products counted so, such as lounges)."""
    return respond(await service.flight_availability(call.context, call.snapshot, params.id))


# --- inventory rules -----------------------------------------------------------------------------


add_kind_routes(
    api,
    rules.INVENTORY_RULE_KIND,
    docs=RouteDocs(
        create="Seed 001's inventory rule: hold duration, overbooking, low-stock threshold, "
        "release policy.",
    ),
)
