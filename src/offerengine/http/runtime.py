"""The run-time app: every run-time operation (shop, offers, orders, decide, events, quote, flags and
OFREP, assignment, promotions, profiles) served by one lean ASGI application beside the admin app.

There is one way to write a run-time route. A domain declares it on its :class:`RuntimeRouter`
with the models of its path parameters (``params``), query, headers and body, and writes an
endpoint that takes a :class:`Call` (the request, the app context, the caller's tenant snapshot)
and those parsed values by the same names, calls one use case, and returns a :class:`~starlette.responses.Response`::

    runtime = RuntimeRouter(tags=["run time"])

    @runtime.post("/v1/decisions", operation_id="decide", body=DecisionRequest,
                  response=DecisionResponse)
    async def decide(call: Call, body: DecisionRequest) -> Response:
        return respond(await deciding.decide(call.context, call.snapshot, body, utcnow()))

Serving an operation is always the same steps, in this order: the strict query check (unknown or
repeated parameters are a 422 naming them), authentication with a runtime key of a tenant (401,
403), path, query and header parameters validated (422 naming the field), the JSON body read,
checked for unstorable text and validated in one pass (415, 400, 422), the endpoint, and any
error answered as the problem document the admin app would give. Around these steps,
:mod:`offerengine.http.limits` sheds what a worker cannot serve in time (503 before anything
else), applies the key's and tenant's rate limits once the key is known (429), and bounds the
time until the request writes (503, nothing changed). :class:`RuntimeApp` finds the
operation by exact path (a dict) or by its path pattern, answers 405 naming the methods a path
takes, and hands every other request to the admin app. The declarations also write the run-time
part of the OpenAPI document (:func:`documented_routes`), so schemathesis fuzzes these routes as
any other.

Why not FastAPI for these: its per-request machinery (the exception middleware, the exit stack,
the route scan, the endpoint wrapper, and ~15–20 µs per dependency it solves, bench/catalog.py)
had made the busiest routes grow a private bypass of it; served here, OFREP evaluation answers
faster than the admin app's empty endpoint (docs/architecture.md, Performance). Bodies stay pydantic
models (validated from the JSON bytes in one pass in Rust; the admin API and the documentation
share them); answers are encoded with msgspec.
"""

from __future__ import annotations

import collections.abc
import inspect
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec
from fastapi import Body, Depends, Header, Path, Query
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from offerengine.auth.core import Permission
from offerengine.auth.deps import (
    RUNTIME_NEEDS_TENANT,
    api_key_header,
    bearer_scheme,
    check_permission,
    principal_of,
)
from offerengine.context import AppContext
from offerengine.errors import FieldError, Forbidden, Invalid, OfferEngineError
from offerengine.http import problems
from offerengine.http.body import raw_body, read_json
from offerengine.http.limits import Guard
from offerengine.http.routing import refuse_stray_query, takes_many
from offerengine.snapshots.core import Snapshot
from offerengine.wording import plain

Auth = Literal["bearer", "ofrep"]
Endpoint = collections.abc.Callable[..., collections.abc.Awaitable[Response]]
# What any run-time route may answer, documented so that clients (and schemathesis) know them.
PROBLEMS = (400, 401, 403, 404, 409, 413, 422, 429, 503)
_encode = msgspec.json.Encoder().encode
UNGUARDED = Guard()  # no limits: for an operation served outside a RuntimeApp


@dataclass(frozen=True, slots=True)
class Call:
    """What every run-time endpoint gets: the request, the app context, and the compiled
    configuration of the caller's tenant (run time never queries configuration)."""

    request: Request
    context: AppContext
    snapshot: Snapshot


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer: bytes as they are, a pydantic model as it dumps, anything else by msgspec."""
    if isinstance(data, bytes):
        content = data
    elif isinstance(data, BaseModel):
        content = data.__pydantic_serializer__.to_json(data)
    else:
        content = _encode(data)
    return Response(content, status_code=status, media_type="application/json", headers=headers)


@dataclass(eq=False)
class Operation:
    """One run-time operation: its declaration, and how it is served."""

    method: str
    path_format: str  # the route's template: its metrics label, its OpenAPI path
    endpoint: Endpoint
    operation_id: str
    tags: list[str]
    status: int = 200
    params: type[BaseModel] | None = None  # the path's parameters
    query: type[BaseModel] | None = None
    headers: type[BaseModel] | None = None
    body: Any = None  # a pydantic model; for a raw body, any type that documents it
    body_required: bool = True
    raw: bool = False  # the endpoint gets the checked body bytes and parses them itself
    response: type[BaseModel] | None = None
    responses: dict[int | str, dict[str, Any]] = field(default_factory=dict)
    auth: Auth = "bearer"
    summary: str = ""
    description: str = ""
    # A protocol with its own error bodies (OFREP) answers a refusal its way; None (or a None
    # answer) gives the problem document.
    refusal: collections.abc.Callable[[OfferEngineError, Request], Response | None] | None = None
    # A documented alias (seed 002's /api/v1/… paths) names the operation it serves as: its
    # time budget is that one's; it is marked deprecated.
    alias_of: str | None = None
    _query_many: dict[str, bool] = field(init=False, default_factory=dict)
    _header_names: tuple[str, ...] = field(init=False, default=())
    path_regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.path_regex = compile_path(self.path_format)[0]
        if self.query is not None:
            self._query_many = {
                info.alias or name: takes_many(info.annotation)
                for name, info in self.query.model_fields.items()
            }
        if self.headers is not None:
            self._header_names = tuple(
                (info.alias or name) for name, info in self.headers.model_fields.items()
            )

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        context: AppContext,
        guard: Guard = UNGUARDED,
    ) -> None:
        request = Request(scope, receive)
        response: Response
        try:
            # The answer is sent outside the budget.
            seconds = guard.budget(self.alias_of or self.operation_id)
            work = self._answer(request, context, guard)
            response = await (work if seconds is None else guard.budgets.within(seconds, work))
        except OfferEngineError as exc:
            own = self.refusal(exc, request) if self.refusal is not None else None
            response = own or problems.from_error(exc)
        except HTTPException as exc:  # the body limit, from receive
            response = await problems.on_http_exception(request, exc)
        except Exception as exc:
            response = problems.unexpected(request, exc)
        await response(scope, receive, send)

    async def _answer(self, request: Request, context: AppContext, guard: Guard) -> Response:
        if request.scope["query_string"]:
            self._check_query(request)
        snapshot = await _snapshot(request, context, self.auth)
        if (refused := await guard.throttle(request, context, snapshot)) is not None:
            return refused
        values: dict[str, Any] = {}
        if self.params is not None:
            values["params"] = _validate(self.params, request.scope["path_params"], "path")
        if self.query is not None:
            values["query"] = _validate(self.query, self._query_values(request), "query")
        if self.headers is not None:
            got = {n: v for n in self._header_names if (v := request.headers.get(n)) is not None}
            values["headers"] = _validate(self.headers, got, "header")
        if self.raw:
            values["body"] = await raw_body(request)
        elif self.body is not None:  # a model: see Operation.body
            values["body"] = await read_json(request, self.body, empty_ok=not self.body_required)
        return await self.endpoint(Call(request, context, snapshot), **values)

    def _check_query(self, request: Request) -> None:
        """Refuse query parameters the route does not take, and repeats of single-valued ones: a
        typo like ``?categroy=SEAT`` must not quietly return everything."""
        refuse_stray_query(request.query_params, self._query_many)

    def _query_values(self, request: Request) -> dict[str, Any]:
        params = request.query_params
        return {
            name: params.getlist(name) if many else params[name]
            for name, many in self._query_many.items()
            if name in params
        }


async def _snapshot(request: Request, context: AppContext, auth: Auth) -> Snapshot:
    """The caller's tenant snapshot, once its key may use run time (401, 403 otherwise). The key
    comes as ``Authorization: Bearer``; OFREP routes also take it as ``X-API-Key``."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    secret = token if scheme.lower() == "bearer" else None
    if secret is None and auth == "ofrep":
        secret = request.headers.get("x-api-key")
    principal = await principal_of(request, context, secret)
    check_permission(principal, Permission.RUNTIME)
    if principal.tenant_id is None:
        raise Forbidden(RUNTIME_NEEDS_TENANT)
    return await context.snapshots.get(principal.tenant_id)


def _validate(model: type[BaseModel], values: dict[str, Any], where: str) -> BaseModel:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise Invalid.of(
            [
                FieldError((where, *_alias_loc(model, e["loc"])), plain(e), e["type"])
                for e in exc.errors(include_url=False)
            ]
        ) from exc


def _alias_loc(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    if loc and isinstance(loc[0], str) and (info := model.model_fields.get(loc[0])) is not None:
        return (info.alias or loc[0], *loc[1:])
    return loc


class RuntimeRouter:
    """Where a domain declares its run-time operations (see the module's docstring)."""

    def __init__(self, *, tags: list[str]) -> None:
        self.tags = list(tags)
        self.operations: list[Operation] = []

    def add(
        self, method: str, path: str, **declared: Any
    ) -> collections.abc.Callable[[Endpoint], Endpoint]:
        def register(endpoint: Endpoint) -> Endpoint:
            doc = inspect.cleandoc(endpoint.__doc__ or "")
            self.operations.append(
                Operation(
                    method=method,
                    path_format=path,
                    endpoint=endpoint,
                    tags=declared.pop("tags", self.tags),
                    summary=declared.pop("summary", endpoint.__name__.replace("_", " ").title()),
                    description=declared.pop("description", doc),
                    **declared,
                )
            )
            return endpoint

        return register

    def get(self, path: str, **declared: Any) -> collections.abc.Callable[[Endpoint], Endpoint]:
        return self.add("GET", path, **declared)

    def post(self, path: str, **declared: Any) -> collections.abc.Callable[[Endpoint], Endpoint]:
        return self.add("POST", path, **declared)

    def put(self, path: str, **declared: Any) -> collections.abc.Callable[[Endpoint], Endpoint]:
        return self.add("PUT", path, **declared)

    def delete(self, path: str, **declared: Any) -> collections.abc.Callable[[Endpoint], Endpoint]:
        return self.add("DELETE", path, **declared)


@dataclass(frozen=True, slots=True)
class _Pattern:
    regex: re.Pattern[str]
    convertors: dict[str, Any]
    methods: dict[str, Operation]


class RuntimeApp:
    """The ASGI app of the run-time operations; any other request (and the lifespan) goes to
    ``admin``. ``state`` is the admin app's, which its lifespan fills with the app context."""

    def __init__(
        self,
        operations: collections.abc.Iterable[Operation],
        admin: ASGIApp,
        state: State,
        guard: Guard | None = None,
    ) -> None:
        self.admin = admin
        self.guard = guard or Guard()  # shedding, rate limits, time budgets (http.limits)
        self.state = state
        self.operations = list(operations)
        self._exact: dict[str, dict[str, Operation]] = {}
        patterns: dict[str, _Pattern] = {}
        for op in self.operations:
            regex, _, convertors = compile_path(op.path_format)
            if convertors:
                found = patterns.setdefault(op.path_format, _Pattern(regex, convertors, {}))
                methods = found.methods
            else:
                methods = self._exact.setdefault(op.path_format, {})
            if op.method in methods:
                raise ValueError(f"{op.method} {op.path_format} is declared twice")
            methods[op.method] = op
        self._patterns = list(patterns.values())

    def __contains__(self, key: tuple[str, str]) -> bool:
        return isinstance(self._match(*key), tuple)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self._match(scope["method"], _route_path(scope))
            if isinstance(found, tuple):
                operation, scope["path_params"] = found
                scope["route"] = operation
                await self.guard.serve(operation, scope, receive, send, self.state.context)
                return
            if found:  # the path is run time's, the method is not
                refused = problems.problem(
                    405,
                    "This route does not accept that method.",
                    headers={"Allow": ", ".join(sorted({op.method for op in found}))},
                )
                scope["route"] = found[0]
                await refused(scope, receive, send)
                return
        await self.admin(scope, receive, send)

    def _match(self, method: str, path: str) -> tuple[Operation, dict[str, Any]] | list[Operation]:
        """The operation for ``method`` on ``path`` with its path parameters, else
        every operation whose path matches with another method (none: not a run-time path).
        A path can match several patterns (``/v1/feature-flags/key/evaluate``): the first that
        takes the method wins."""
        exact = self._exact.get(path)
        if exact is not None:
            operation = exact.get(method)
            return (operation, {}) if operation is not None else list(exact.values())
        others: list[Operation] = []
        for pattern in self._patterns:
            matched = pattern.regex.match(path)
            if matched is None:
                continue
            operation = pattern.methods.get(method)
            if operation is None:
                others.extend(pattern.methods.values())
                continue
            convertors = pattern.convertors
            params = {name: convertors[name].convert(v) for name, v in matched.groupdict().items()}
            return operation, params
        return others


def _route_path(scope: Scope) -> str:
    """The path the routes match: without the root path the app is served under, if any."""
    path: str = scope["path"]
    root = scope.get("root_path")
    return path[len(root) :] if root and path.startswith(root) else path


# --- the OpenAPI document -------------------------------------------------------------------------


def documented_routes(operations: collections.abc.Iterable[Operation]) -> list[APIRoute]:
    """The operations as FastAPI routes that are never served, only documented: the admin app
    writes its OpenAPI document from its own routes and these in one pass, so that every schema
    has one name and shape however many routes share it."""
    return [_documented_route(op) for op in operations]


def _documented_route(op: Operation) -> APIRoute:
    parameters = []
    if op.params is not None:
        for name, info in op.params.model_fields.items():
            where = Path(description=info.description)
            parameters.append(_parameter(name, Annotated[info.annotation, *info.metadata, where]))
    if op.query is not None:
        parameters.append(_parameter("query", Annotated[op.query, Query()]))
    if op.headers is not None:
        parameters.append(_parameter("headers", Annotated[op.headers, Header()]))
    if op.body is not None:
        parameters.append(
            _parameter(
                "body",
                Annotated[op.body, Body()],
                inspect.Parameter.empty if op.body_required else None,
            )
        )

    async def endpoint(**_: Any) -> None:  # never called: the run-time app serves the operation
        raise AssertionError("documentation only")

    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = op.endpoint.__name__
    schemes = [bearer_scheme, api_key_header] if op.auth == "ofrep" else [bearer_scheme]
    return APIRoute(
        op.path_format,
        endpoint,
        methods=[op.method],
        operation_id=op.operation_id,
        summary=op.summary,
        description=op.description,
        tags=list(op.tags),
        deprecated=op.alias_of is not None or None,
        status_code=op.status,
        response_model=op.response,
        response_class=Response if op.status == 204 else JSONResponse,
        responses={
            **problems.responses(*PROBLEMS, *((415,) if op.body is not None else ())),
            **op.responses,
        },
        dependencies=[Depends(scheme) for scheme in schemes],  # type: ignore[arg-type]
    )


def _parameter(
    name: str, annotation: Any, default: Any = inspect.Parameter.empty
) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )
