from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.errors import FieldError, Invalid, NotFound
from offerengine.network import core
from offerengine.network.models import Airport
from offerengine.snapshots import service as snapshots
from offerengine.versioning import service as versioning


async def list_airports(session: AsyncSession, *, tenant_id: uuid.UUID) -> Sequence[Airport]:
    return (
        await session.scalars(
            sa.select(Airport).where(Airport.tenant_id == tenant_id).order_by(Airport.iata)
        )
    ).all()


async def add_airports(
    session: AsyncSession, *, tenant_id: uuid.UUID, iata_codes: Sequence[str], actor: Actor
) -> list[Airport]:
    """Add airports by IATA code, with their data from airportsdata; codes already served are kept."""
    wanted: dict[str, core.AirportFacts] = {}
    errors: list[FieldError] = []
    for index, code in enumerate(iata_codes):
        facts = core.lookup(code)
        if facts is None:
            errors.append(
                FieldError(("body", "iata_codes", index), f"{code!r} is not a known IATA airport")
            )
        else:
            wanted[facts.iata] = facts
    if errors:
        raise Invalid(f"{len(errors)} unknown airport code(s); nothing was added.", errors)
    present = set(
        await session.scalars(
            sa.select(Airport.iata).where(Airport.tenant_id == tenant_id, Airport.iata.in_(wanted))
        )
    )
    added = [
        Airport(
            tenant_id=tenant_id,
            iata=f.iata,
            name=f.name,
            city=f.city,
            country=f.country,
            timezone=f.timezone,
            latitude=f.latitude,
            longitude=f.longitude,
        )
        for code, f in sorted(wanted.items())
        if code not in present
    ]
    if added:
        session.add_all(added)
        await session.flush()
        versioning.audit(
            session,
            actor=actor,
            action="airport.add",
            tenant_id=tenant_id,
            object_type="airport",
            after={"iata_codes": [a.iata for a in added]},
        )
        snapshots.mark_config_changed(session, tenant_id)
    return added


async def remove_airport(
    session: AsyncSession, *, tenant_id: uuid.UUID, iata: str, actor: Actor
) -> None:
    airport = await session.scalar(
        sa.select(Airport).where(Airport.tenant_id == tenant_id, Airport.iata == iata.upper())
    )
    if airport is None:
        raise NotFound(f"The tenant does not serve {iata.upper()}.")
    versioning.audit(
        session,
        actor=actor,
        action="airport.remove",
        tenant_id=tenant_id,
        object_type="airport",
        object_id=airport.id,
        before={"iata": airport.iata},
    )
    await session.delete(airport)
    snapshots.mark_config_changed(session, tenant_id)
