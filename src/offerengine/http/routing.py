"""Router defaults and small HTTP helpers shared by every domain router."""

from __future__ import annotations

import collections.abc
import re
import types
import typing
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams

from offerengine import text
from offerengine.errors import FieldError, Invalid, raise_if_any
from offerengine.fields import MAX_INT
from offerengine.http import problems

# The problems any authenticated route may answer; documented so that clients (and schemathesis)
# know every status they can get.
COMMON_PROBLEMS = (400, 401, 403, 404, 409, 413, 422)


def router(*, prefix: str = "", tags: list[str], **kwargs: Any) -> APIRouter:
    """An admin router with the common problem responses, the strict query check and the check
    of its JSON bodies for unstorable text (:class:`CheckedRoute`). (Run-time operations are
    declared on :class:`offerengine.http.runtime.RuntimeRouter`.)"""
    return APIRouter(
        prefix=prefix,
        tags=list(tags),
        responses=problems.responses(*COMMON_PROBLEMS),
        dependencies=[Depends(strict_query)],
        route_class=CheckedRoute,
        **kwargs,
    )


class CheckedRoute(APIRoute):
    """A route whose JSON body, when FastAPI parses it into the endpoint's model, is first refused
    if it holds text the database cannot store (:func:`offerengine.text.check_json`: 400 if not
    UTF-8, 422 naming the field for NUL or a lone surrogate).

    FastAPI reads such bodies with the standard library's ``json``, which keeps ``\\u0000`` and
    lone surrogate escapes, and pydantic then takes them as any other text. The check sits here,
    around FastAPI's own handler, so that every such route has it and routes without a body pay
    nothing; the bytes it reads are the ones FastAPI parses next (the request keeps them). Routes
    that read their bodies themselves are checked by :func:`offerengine.http.body.raw_body`.
    """

    def get_route_handler(
        self,
    ) -> collections.abc.Callable[[Request], collections.abc.Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        field = self.body_field
        if field is None or isinstance(field.field_info, params.Form):
            return handler

        async def checked(request: Request) -> Response:
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type in ("", "application/json") or (
                media_type.startswith("application/") and media_type.endswith("+json")
            ):
                text.check_json(await request.body())
            return await handler(request)

        return checked


_MULTI = (list, tuple, set, frozenset, collections.abc.Sequence)


def takes_many(annotation: Any) -> bool:
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = typing.get_args(annotation) if union else (annotation,)
    return any(typing.get_origin(a) in _MULTI or a in _MULTI for a in options)


def _accepted_query(route: APIRoute) -> dict[str, bool]:
    """The query parameters a route declares (its dependencies' included): name → takes a list."""
    found: dict[str, bool] = {}
    stack: list[Dependant] = [route.dependant]
    while stack:
        dependant = stack.pop()
        for param in dependant.query_params:
            found[param.alias] = takes_many(param.field_info.annotation)
        stack.extend(dependant.dependencies)
    return found


async def strict_query(request: Request) -> None:
    """Refuse query parameters the route does not take, and repeats of single-valued ones: a typo
    like ``?categroy=SEAT`` must not quietly return everything."""
    check_query(request)


def check_query(request: Request) -> None:
    """:func:`strict_query` as a plain call."""
    if not request.scope.get("query_string"):
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    accepted: dict[str, bool] | None = getattr(route, "_offerengine_query", None)
    if accepted is None:
        accepted = _accepted_query(route)
        route._offerengine_query = accepted  # type: ignore[attr-defined]
    refuse_stray_query(request.query_params, accepted)


def refuse_stray_query(given: QueryParams, accepted: dict[str, bool]) -> None:
    """A 422 naming every query parameter not in ``accepted`` (name → takes a list), and every
    single-valued one given more than once (the admin routes' and the run-time app's check)."""
    errors: list[FieldError] = []
    for name in dict.fromkeys(given.keys()):
        if name not in accepted:
            known = ", ".join(sorted(accepted)) or "none"
            errors.append(
                FieldError(("query", name), f"unknown parameter (this route takes: {known})")
            )
        elif not accepted[name] and len(given.getlist(name)) > 1:
            errors.append(FieldError(("query", name), "given more than once"))
    raise_if_any(errors)


_ETAG = re.compile(r'^(?:W/)?"?(\d{1,18})"?$')


async def parse_if_match(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=100,
            description='Optimistic concurrency: the version (ETag) the change is based on, e.g. "3".',
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match.strip())
    if found is None or int(found.group(1)) > MAX_INT:
        raise Invalid.field(("header", "If-Match"), 'expected a version ETag such as "3"')
    return int(found.group(1))


IfMatch = Annotated[int | None, Depends(parse_if_match)]


def expected_version(header: int | None, body: int | None) -> int | None:
    """The version a change is based on, from If-Match or the body's ``version``."""
    if header is not None and body is not None and header != body:
        raise Invalid.field(("body", "version"), f"differs from If-Match ({header})")
    return header if header is not None else body


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'
