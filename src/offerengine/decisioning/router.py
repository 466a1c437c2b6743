"""Decisioning: the six configuration kinds (admin) and `POST /v1/decisions` (run time).

No ``from __future__ import annotations``: the routes are made per kind in a loop, and FastAPI must
see their body and dependency annotations as objects.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import create_model

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor, CurrentPrincipal
from offerengine.db.base import utcnow
from offerengine.decisioning import runtime as deciding
from offerengine.decisioning import service
from offerengine.decisioning.models import DecisioningObject
from offerengine.decisioning.schemas import DecisionRequest, DecisionResponse, Status
from offerengine.deps import DbSession
from offerengine.errors import NotFound
from offerengine.http.routing import IfMatch, expected_version, router, set_etag
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.pagination import Page
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.router import add_version_routes

api = router(tags=["decisioning"])
runtime = RuntimeRouter(tags=["run time"])


def _title(spec: service.Spec) -> str:
    return "".join(part.capitalize() for part in spec.kind.split("_"))


def _add_kind(api: APIRouter, spec: service.Spec) -> None:
    collection = f"/v1/admin/tenants/{{tenant}}/decisioning/{spec.path}"
    item = f"/v1/admin/decisioning/{spec.path}/{{id:uuid}}"
    title = _title(spec)
    plural = f"{title[:-1]}ies" if title.endswith("y") else f"{title}s"
    schema_in: Any = spec.schema_in
    read: Any = spec.schema_read
    update: Any = create_model(
        f"{title}Update", __base__=spec.schema_in, version=(int | None, None)
    )

    async def load(
        id: Annotated[uuid.UUID, Path(description=f"The {spec.what}'s id.")],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> DecisioningObject:
        found = await session.get(DecisioningObject, id)
        if (
            found is None
            or found.kind != spec.kind
            or not (principal.is_platform or found.tenant_id == principal.tenant_id)
        ):
            raise NotFound(f"No {spec.what} {id}.")
        return found

    Loaded = Annotated[DecisioningObject, Depends(load)]  # noqa: N806 - a type alias

    async def list_objects(
        tenant: PathTenant,
        _: ConfigReader,
        session: DbSession,
        status: Annotated[Status | None, Query()] = None,
    ) -> Any:
        rows = await service.list_objects(session, spec=spec, tenant_id=tenant.id, status=status)
        return {"items": [spec.read(row) for row in rows], "next_cursor": None}

    async def create(
        tenant: PathTenant,
        body: schema_in,
        _: ConfigWriter,
        actor: CurrentActor,
        session: DbSession,
        response: Response,
    ) -> Any:
        obj = await service.create(session, spec=spec, tenant_id=tenant.id, data=body, actor=actor)
        set_etag(response, obj.version)
        return spec.read(obj)

    async def get(obj: Loaded, _: ConfigReader, response: Response) -> Any:
        set_etag(response, obj.version)
        return spec.read(obj)

    async def put(
        obj: Loaded,
        body: update,
        _: ConfigWriter,
        actor: CurrentActor,
        session: DbSession,
        if_match: IfMatch,
        response: Response,
    ) -> Any:
        updated = await service.update(
            session,
            spec=spec,
            obj=obj,
            data=body,  # type: ignore[arg-type]
            actor=actor,
            expected_version=expected_version(if_match, body.version),  # type: ignore[attr-defined]
        )
        set_etag(response, updated.version)
        return spec.read(updated)

    async def delete(
        obj: Loaded, _: ConfigWriter, actor: CurrentActor, session: DbSession, if_match: IfMatch
    ) -> Response:
        await service.delete(session, spec=spec, obj=obj, actor=actor, expected_version=if_match)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    doc = (spec.schema_in.__doc__ or "").strip()
    api.add_api_route(
        collection,
        list_objects,
        methods=["GET"],
        operation_id=f"listDecisioning{plural}",
        response_model=Page[read],
        summary=f"List {spec.what} objects",
    )
    api.add_api_route(
        collection,
        create,
        methods=["POST"],
        status_code=status.HTTP_201_CREATED,
        operation_id=f"createDecisioning{title}",
        response_model=read,
        summary=f"Create a {spec.what}",
        description=f"{doc} References and rules are checked: a bad one is a 422 naming the field.",
    )
    api.add_api_route(
        item, get, methods=["GET"], operation_id=f"getDecisioning{title}", response_model=read
    )
    api.add_api_route(
        item, put, methods=["PUT"], operation_id=f"updateDecisioning{title}", response_model=read
    )
    api.add_api_route(
        item,
        delete,
        methods=["DELETE"],
        status_code=status.HTTP_204_NO_CONTENT,
        operation_id=f"deleteDecisioning{title}",
        response_class=Response,
        description="Delete it (409 while another object refers to it); its history stays.",
    )
    add_version_routes(
        api,
        spec.history,
        path=f"/v1/admin/decisioning/{spec.path}",
        operation=f"Decisioning{title}",
        read_model=read,
        to_read=spec.read,
    )


for _spec in service.SPECS.values():
    _add_kind(api, _spec)


@runtime.post(
    "/v1/decisions", operation_id="decide", body=DecisionRequest, response=DecisionResponse
)
async def decide(call: Call, body: DecisionRequest) -> Response:
    """The next best offer for each activity's placement: candidates of its collection → calendar
    → eligibility → capping (exact) → ranking → de-duplication across the activities → `count`
    items or the fallback. `explain: true` says what became of every candidate; `dry_run: true`
    counts and records nothing."""
    return respond(await deciding.decide(call.context, call.snapshot, body, utcnow()))
