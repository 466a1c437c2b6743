"""Decisioning: the six configuration kinds (admin) and `POST /v1/decisions` (run time).

The kinds are declared in :mod:`offerengine.decisioning.service` (``KINDS``); their routes are the
standard ones of :func:`offerengine.versioning.kind_routes.add_kind_routes`.

No ``from __future__ import annotations``: FastAPI must see the filter's annotations as objects.
"""

from typing import Annotated

from fastapi import Query, Response

from offerengine.clock import utcnow
from offerengine.decisioning import runtime as deciding
from offerengine.decisioning import service
from offerengine.decisioning.schemas import DecisionRequest, DecisionResponse, Status
from offerengine.http.routing import router
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes

api = router(tags=["decisioning"])
runtime = RuntimeRouter(tags=["run time"])


def object_filters(
    status: Annotated[Status | None, Query()] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Search the name.")
    ] = None,
) -> service.ObjectFilter:
    return service.ObjectFilter(status=status, q=q)


for _kind in service.KINDS.values():
    _doc = (_kind.create_schema.__doc__ or "").strip()
    add_kind_routes(
        api,
        _kind,
        filters=object_filters,
        docs=RouteDocs(
            create=f"{_doc} References and rules are checked: a bad one is a 422 naming the field.",
            delete="Delete it (409 while another object refers to it); its history stays.",
        ),
    )


@runtime.post(
    "/v1/decisions", operation_id="decide", body=DecisionRequest, response=DecisionResponse
)
async def decide(call: Call, body: DecisionRequest) -> Response:
    """The next best offer for each activity's placement: candidates of its collection → calendar
    → eligibility → capping (exact) → ranking → de-duplication across the activities → `count`
    items or the fallback. `explain: true` says what became of every candidate; `dry_run: true`
    counts and records nothing."""
    return respond(await deciding.decide(call.context, call.snapshot, body, utcnow()))
