"""Dead letters (admin): the run-time records the database refused, and re-driving them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from offerengine.auth.deps import ConfigReader, ConfigWriter
from offerengine.clock import utcnow
from offerengine.deps import DbSession
from offerengine.http.routing import router
from offerengine.recording import service
from offerengine.recording.schemas import (
    DeadLetterList,
    DeadLetterRead,
    RedriveRequest,
    RedriveResponse,
    RedriveResult,
)
from offerengine.tenants.deps import PathTenant

api = router(tags=["records"])
COLLECTION = "/v1/admin/tenants/{tenant}/dead-letters"


@api.get(COLLECTION, operation_id="listDeadLetters", response_model=DeadLetterList)
async def list_dead_letters(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    redriven: Annotated[
        bool | None,
        Query(description="true: those written since; false: those still waiting; all if unset."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeadLetterList:
    """Run-time records the database refused (newest first), each with the error and the record
    as it was answered. Every other record of their batch was stored."""
    found = await service.list_dead_letters(
        session, tenant_id=tenant.id, redriven=redriven, limit=limit
    )
    return DeadLetterList(items=[DeadLetterRead.of(letter) for letter in found])


@api.post(
    f"{COLLECTION}/redrive", operation_id="redriveDeadLetters", response_model=RedriveResponse
)
async def redrive(
    tenant: PathTenant,
    body: RedriveRequest,
    _: ConfigWriter,
    session: DbSession,
) -> RedriveResponse:
    """Write the records of waiting dead letters again (those named, or all), once what refused
    them is fixed: each is written on its own, and marked re-driven; one refused again keeps its
    dead letter with the new error."""
    done = await service.redrive(session, tenant_id=tenant.id, ids=body.ids, now=utcnow())
    return RedriveResponse(
        results=[
            RedriveResult(id=d.letter.id, written=d.error is None, error=d.error) for d in done
        ]
    )
