"""The standard admin routes of a configuration kind, made from its declaration.

:func:`add_kind_routes` gives a :class:`~offerengine.versioning.kinds.ConfigKind` (declared in its
service) these routes, ``{path}`` being the kind's path piece:

- ``GET /v1/admin/tenants/{tenant}/{path}``: list, with the kind's filters (a dependency its router
  passes) and, when the kind pages, ``limit`` and ``cursor``;
- ``POST`` there: create, 201 with the ``ETag`` of version 1;
- ``GET /v1/admin/{path}/{id}``: get, with its ``ETag``;
- ``PUT`` there: a new version (``If-Match`` or the body's ``version`` guards against lost updates);
- ``DELETE`` there: 204 (``If-Match`` too); the history stays (a kind without ``delete`` has none);
- ``POST /v1/admin/{path}/{id}/{name}`` for each of the kind's actions (an experiment's start);
- ``…/export`` and ``…/import`` on the collection when the kind declares a transfer;
- the version history and rollback (:func:`~offerengine.versioning.router.add_version_routes`).

A :class:`~offerengine.versioning.documents.DocumentKind` (one per tenant) gets instead
``GET`` and ``PUT /v1/admin/tenants/{tenant}/{path}`` (its defaults at version 0 while never
saved) and the same version routes.

A kind's extras (a bulk route, a status toggle) are added by its router beside these, loading the
object with :func:`loader`.

No ``from __future__ import annotations``: the route functions close over the kind's schemas and
dependencies, which FastAPI must see as objects, not as names.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Response, status
from pydantic import BaseModel

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor, CurrentPrincipal
from offerengine.deps import Ctx, DbSession
from offerengine.errors import NotFound
from offerengine.http.query import Count, Cursor, Limit
from offerengine.http.routing import IfMatch, expected_version, set_etag
from offerengine.pagination import DEFAULT_LIMIT, Page
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.documents import DocumentKind
from offerengine.versioning.kinds import (
    Action,
    ConfigKind,
    Deletes,
    PageRequest,
    Transfer,
    Updates,
)
from offerengine.versioning.router import add_version_routes


@dataclass(frozen=True)
class RouteDocs:
    """The descriptions of a kind's standard routes (None: the route has none)."""

    list: str | None = None
    create: str | None = None
    get: str | None = None
    update: str | None = None
    delete: str | None = None
    export: str | None = None
    import_: str | None = None


def loader(kind: ConfigKind[Any]) -> Callable[..., Any]:
    """A dependency that loads the kind's object named by the ``id`` path parameter; another
    tenant's object is a 404, exactly as a missing one."""

    async def load(
        id: Annotated[uuid.UUID, Path(description=f"The {kind.what}'s id.")],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Any:
        found = await kind.get(session, id)
        if found is None or not principal.sees_tenant(found.tenant_id):
            raise NotFound(f"No {kind.what} {id}.")
        return found

    return load


def reader(kind: ConfigKind[Any]) -> Callable[..., Any]:
    """As :func:`loader`, read in a session of its own that is closed before the route runs: for
    a route that only reads and then waits on what takes a connection itself (a snapshot being
    rebuilt, a search reading stock), so that it holds none meanwhile (and, on SQLite, a POST
    that only reads takes no write lock)."""

    async def load(
        id: Annotated[uuid.UUID, Path(description=f"The {kind.what}'s id.")],
        principal: CurrentPrincipal,
        ctx: Ctx,
    ) -> Any:
        async with ctx.session_factory() as session:
            found = await kind.get(session, id)
        if found is None or not principal.sees_tenant(found.tenant_id):
            raise NotFound(f"No {kind.what} {id}.")
        return found

    return load


def add_kind_routes(
    api: APIRouter,
    kind: ConfigKind[Any] | DocumentKind[Any],
    *,
    filters: Callable[..., Any] | None = None,
    docs: RouteDocs | None = None,
) -> None:
    """Add the standard routes of ``kind`` to ``api``; ``filters`` is a dependency whose query
    parameters filter the list, and whose value the kind's list use case takes."""
    docs = docs or RouteDocs()
    if isinstance(kind, DocumentKind):
        _add_document_routes(api, kind, docs)
    else:
        _add_collection_routes(api, kind, filters or _no_filters, docs)
        _add_item_routes(api, kind, docs)
        for action in kind.actions:
            _add_action_route(api, kind, action)
        if kind.transfer is not None:
            _add_transfer_routes(api, kind, kind.transfer, docs)
    add_version_routes(
        api,
        kind.history,
        path=f"/v1/admin/{kind.path}",
        operation=kind.operation,
        read_model=kind.read_schema,
        to_read=kind.read,
    )


def _no_filters() -> None:
    return None


def _paged(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> PageRequest | None:
    return PageRequest(limit, cursor)


def _unpaged() -> PageRequest | None:
    return None


def _article(what: str) -> str:
    return "an" if what[:1] in ("a", "e", "i", "o", "u") else "a"


def _add_collection_routes(
    api: APIRouter, kind: ConfigKind[Any], filters: Callable[..., Any], docs: RouteDocs
) -> None:
    collection = f"/v1/admin/tenants/{{tenant}}/{kind.path}"
    create_schema: Any = kind.create_schema
    read: Any = kind.read_schema
    Filters = Annotated[Any, Depends(filters)]  # noqa: N806 - a type alias
    Paging = Annotated[  # noqa: N806 - a type alias
        PageRequest | None, Depends(_paged if kind.paged else _unpaged)
    ]

    async def list_objects(
        tenant: PathTenant,
        _: ConfigReader,
        session: DbSession,
        filters: Filters,
        page: Paging,
        count: Count = False,
    ) -> Any:
        rows, next_cursor = await kind.list(
            session, tenant_id=tenant.id, filters=filters, page=page
        )
        total = None
        if count and kind.count is not None:
            total = await kind.count(session, tenant_id=tenant.id, filters=filters)
        elif count and page is None:  # a list of everything at once: its length
            total = len(rows)
        items = await kind.present(session, rows)
        return {"items": items, "next_cursor": next_cursor, "total": total}

    async def create(
        tenant: PathTenant,
        body: create_schema,
        _: ConfigWriter,
        actor: CurrentActor,
        session: DbSession,
        response: Response,
    ) -> Any:
        obj = await kind.create(session, tenant=tenant, data=body, actor=actor)
        set_etag(response, obj.version)
        return kind.read(obj)

    api.add_api_route(
        collection,
        list_objects,
        methods=["GET"],
        operation_id=f"list{kind.plural_operation}",
        response_model=Page[read],
        summary=f"List {kind.what_plural}",
        description=docs.list,
    )
    api.add_api_route(
        collection,
        create,
        methods=["POST"],
        status_code=status.HTTP_201_CREATED,
        operation_id=f"create{kind.operation}",
        response_model=read,
        summary=f"Create {_article(kind.what)} {kind.what}",
        description=docs.create,
    )


def _add_item_routes(api: APIRouter, kind: ConfigKind[Any], docs: RouteDocs) -> None:
    item = f"/v1/admin/{kind.path}/{{id:uuid}}"
    read: Any = kind.read_schema
    Loaded = Annotated[Any, Depends(loader(kind))]  # noqa: N806 - a type alias
    a_what = f"{_article(kind.what)} {kind.what}"

    async def get(obj: Loaded, _: ConfigReader, session: DbSession, response: Response) -> Any:
        set_etag(response, obj.version)
        return (await kind.present(session, [obj]))[0]

    put = _change(kind, kind.update, _body(kind.update_schema, required=True))

    for endpoint, method, verb, description in (
        (get, "GET", "get", docs.get),
        (put, "PUT", "update", docs.update),
    ):
        api.add_api_route(
            item,
            endpoint,
            methods=[method],
            operation_id=f"{verb}{kind.operation}",
            response_model=read,
            summary=f"{verb.capitalize()} {a_what}",
            description=description,
        )
    if kind.delete is not None:
        _add_delete_route(api, kind, kind.delete, Loaded, docs)


def _add_delete_route(
    api: APIRouter, kind: ConfigKind[Any], deletes: Deletes[Any], loaded: Any, docs: RouteDocs
) -> None:
    async def delete(
        obj: loaded, _: ConfigWriter, actor: CurrentActor, session: DbSession, if_match: IfMatch
    ) -> Response:
        await deletes(session, obj=obj, actor=actor, expected_version=if_match)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    api.add_api_route(
        f"/v1/admin/{kind.path}/{{id:uuid}}",
        delete,
        methods=["DELETE"],
        status_code=status.HTTP_204_NO_CONTENT,
        operation_id=f"delete{kind.operation}",
        response_class=Response,
        summary=f"Delete {_article(kind.what)} {kind.what}",
        description=docs.delete,
    )


def _add_action_route(api: APIRouter, kind: ConfigKind[Any], action: Action[Any]) -> None:
    """``POST /v1/admin/{path}/{id}/{name}``: the action, its body optional."""
    api.add_api_route(
        f"/v1/admin/{kind.path}/{{id:uuid}}/{action.name}",
        _change(kind, action.run, _body(action.body, required=False)),
        methods=["POST"],
        operation_id=f"{action.name}{kind.operation}",
        response_model=kind.read_schema,
        summary=f"{action.name.capitalize()} {_article(kind.what)} {kind.what}",
        description=action.description,
    )


def _change(
    kind: ConfigKind[Any], run: Updates[Any], body: Callable[..., Any]
) -> Callable[..., Any]:
    """An endpoint applying ``run`` to the object of the path with the body the dependency
    ``body`` reads, based on the version ``If-Match`` or the body's ``version`` names; it
    answers the object as get does, with its new ``ETag``."""
    Loaded = Annotated[Any, Depends(loader(kind))]  # noqa: N806 - a type alias
    Taken = Annotated[Any, Depends(body)]  # noqa: N806 - a type alias

    async def change(
        obj: Loaded,
        body: Taken,
        _: ConfigWriter,
        actor: CurrentActor,
        session: DbSession,
        if_match: IfMatch,
        response: Response,
    ) -> Any:
        changed = await run(
            session,
            obj=obj,
            data=body,
            actor=actor,
            expected_version=expected_version(if_match, getattr(body, "version", None)),
        )
        set_etag(response, changed.version)
        return (await kind.present(session, [changed]))[0]

    return change


def _body(schema: type[BaseModel] | None, *, required: bool) -> Callable[..., Any]:
    """A dependency reading the JSON body as ``schema``; one not ``required`` may be left out
    (None: the route takes no body)."""
    if schema is None:
        return _no_body
    if required:

        async def given(body: schema) -> Any:  # type: ignore[valid-type]
            return body

        return given
    Optional: Any = Annotated[schema | None, Body()]  # noqa: N806 - a type alias

    async def maybe(body: Optional = None) -> Any:
        return body

    return maybe


def _no_body() -> None:
    return None


def _add_document_routes(api: APIRouter, kind: DocumentKind[Any], docs: RouteDocs) -> None:
    """``GET`` and ``PUT /v1/admin/tenants/{tenant}/{path}``."""
    collection = f"/v1/admin/tenants/{{tenant}}/{kind.path}"
    update_schema: Any = kind.update_schema

    async def get_document(
        tenant: PathTenant, _: ConfigReader, session: DbSession, response: Response
    ) -> Any:
        found = kind.read(await kind.get(session, tenant.id))
        set_etag(response, found.version)
        return found

    async def put_document(
        tenant: PathTenant,
        body: update_schema,
        _: ConfigWriter,
        actor: CurrentActor,
        session: DbSession,
        if_match: IfMatch,
        response: Response,
        ctx: Ctx,
    ) -> Any:
        doc = await kind.put(
            session,
            tenant_id=tenant.id,
            data=body,
            actor=actor,
            expected_version=expected_version(if_match, body.version),
            allow_private_destinations=ctx.settings.webhook_allow_private_networks,
        )
        set_etag(response, doc.version)
        return kind.read(doc)

    for endpoint, method, verb, summary, description in (
        (get_document, "GET", "get", "Get", docs.get),
        (put_document, "PUT", "put", "Replace", docs.update),
    ):
        api.add_api_route(
            collection,
            endpoint,
            methods=[method],
            operation_id=f"{verb}{kind.operation}",
            response_model=kind.read_schema,
            summary=f"{summary} the {kind.what}",
            description=description,
        )


def _add_transfer_routes(
    api: APIRouter, kind: ConfigKind[Any], transfer: Transfer, docs: RouteDocs
) -> None:
    collection = f"/v1/admin/tenants/{{tenant}}/{kind.path}"
    schema: Any = transfer.schema

    async def export(tenant: PathTenant, _: ConfigReader, session: DbSession) -> Any:
        return await transfer.export(session, tenant_id=tenant.id)

    async def import_(
        tenant: PathTenant,
        body: schema,
        _: ConfigWriter,
        actor: CurrentActor,
        session: DbSession,
    ) -> Any:
        return await transfer.import_(session, tenant=tenant, data=body, actor=actor)

    api.add_api_route(
        f"{collection}/export",
        export,
        methods=["GET"],
        operation_id=f"export{kind.plural_operation}",
        response_model=transfer.schema,
        summary=f"Export {kind.what_plural}",
        description=docs.export,
    )
    api.add_api_route(
        f"{collection}/import",
        import_,
        methods=["POST"],
        operation_id=f"import{kind.plural_operation}",
        response_model=transfer.result,
        summary=f"Import {kind.what_plural}",
        description=docs.import_,
    )
