from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response, status

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor
from offerengine.deps import DbSession
from offerengine.http.routing import router
from offerengine.network import service
from offerengine.network.schemas import AirportList, AirportRead, AirportsAdd
from offerengine.tenants.deps import PathTenant

api = router(prefix="/v1/admin/tenants/{tenant}/airports", tags=["network"])


@api.get("", operation_id="listAirports")
async def list_airports(tenant: PathTenant, _: ConfigReader, session: DbSession) -> AirportList:
    """The airports the tenant serves."""
    rows = await service.list_airports(session, tenant_id=tenant.id)
    return AirportList(items=[AirportRead.model_validate(a, from_attributes=True) for a in rows])


@api.post("", status_code=status.HTTP_201_CREATED, operation_id="addAirports")
async def add_airports(
    tenant: PathTenant, body: AirportsAdd, _: ConfigWriter, actor: CurrentActor, session: DbSession
) -> AirportList:
    """Serve more airports; names, cities, time zones and coordinates come from airportsdata."""
    added = await service.add_airports(
        session, tenant_id=tenant.id, iata_codes=body.iata_codes, actor=actor
    )
    return AirportList(items=[AirportRead.model_validate(a, from_attributes=True) for a in added])


@api.delete("/{iata}", status_code=status.HTTP_204_NO_CONTENT, operation_id="removeAirport")
async def remove_airport(
    tenant: PathTenant,
    iata: Annotated[str, Path(pattern=r"^[A-Za-z]{3}$", description="IATA code.")],
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
) -> Response:
    await service.remove_airport(session, tenant_id=tenant.id, iata=iata, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
