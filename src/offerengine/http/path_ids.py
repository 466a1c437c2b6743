"""Malformed ids in paths: a 422 naming the path parameter, not "no such route".

Typed path parameters (``{id:uuid}``, ``{offer_id:offer_id}``) keep words such as
``/pricing-rules/simulate`` free to be routes of their own: a path whose id is not a UUID matches
no route. Once nothing has matched (and only then, so no route pays for it), :class:`PathIds`
tries every documented route again with its typed parameters taking any segment; a route that
matches that way, with the request's method, is the one the client meant, and the parameters
that fail their type are what is wrong with the request: a 422 naming each, e.g.
``["path", "id"]``. A well-formed id that names nothing still reaches its route (a 404 there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, compile_path

from offerengine.errors import FieldError, Invalid

# What a client should send instead, by the type of the parameter.
EXPECTED = {
    "uuid": "must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "offer_id": "must be an offer id: 32 lower-case hexadecimal digits, as a search returns them",
    "int": "must be a whole number",
    "float": "must be a number",
}
_TYPED = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*):([a-zA-Z_][a-zA-Z0-9_]*)}")


@dataclass(frozen=True, slots=True)
class _Loose:
    methods: frozenset[str]
    regex: re.Pattern[str]  # the route's path with every typed parameter taking any segment
    typed: dict[str, tuple[str, re.Pattern[str]]]  # parameter → (its type, what it takes)


class PathIds:
    """The routes with typed path parameters, to tell a malformed id from an unknown route."""

    def __init__(self, routes: Iterable[tuple[Iterable[str], str]]) -> None:
        """``routes``: (methods, path template) of every route whose ids are to be checked."""
        self._routes: list[_Loose] = []
        for methods, template in routes:
            typed_params = _TYPED.findall(template)
            if not typed_params:
                continue
            _, _, convertors = compile_path(template)
            loose, _, _ = compile_path(_TYPED.sub(r"{\1}", template))
            typed = {
                name: (kind, re.compile(convertors[name].regex)) for name, kind in typed_params
            }
            self._routes.append(_Loose(frozenset(m.upper() for m in methods), loose, typed))

    @classmethod
    def of(cls, routes: Iterable[BaseRoute], operations: Iterable[tuple[str, str]]) -> PathIds:
        """The documented API routes among ``routes`` (the admin UI's pages answer people, not
        clients), and the run-time ``operations`` as (method, path template)."""
        return cls(
            [
                *(
                    (r.methods, r.path)
                    for r in routes
                    if isinstance(r, APIRoute) and r.include_in_schema and r.methods
                ),
                *(((method,), template) for method, template in operations),
            ]
        )

    def refusal(self, method: str, path: str) -> Invalid | None:
        """The 422 for ``method`` on ``path``, if a route would take it but for its ids."""
        for route in self._routes:
            if method.upper() not in route.methods:
                continue
            matched = route.regex.match(path)
            if matched is None:
                continue
            errors = [
                FieldError(
                    ("path", name),
                    EXPECTED.get(kind, f"is not a valid {kind}"),
                    f"{kind}_parsing",
                )
                for name, (kind, takes) in route.typed.items()
                if takes.fullmatch(matched.group(name)) is None
            ]
            if errors:
                return Invalid.of(errors)
        return None
