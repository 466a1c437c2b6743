"""The seeds' paths as documented aliases of ours (docs/seeds.md maps every seed endpoint).

Seed 002 serves its API under ``/api/v1/…`` and seed 000 its offers there too. Where one of their
endpoints is one of ours with another path, the alias is the same operation: the same handler,
dependencies, checks and answer, under the seed's path, with an operation id of its own
(``seed`` + ours), the tag "seed aliases" and ``deprecated: true`` in the OpenAPI document, so
that generated clients say which path to move to. A run-time alias keeps its operation's time
budget. A seed endpoint that needs a tenant in its path to be ours (a collection: seed 002 is a
single-tenant service) is not aliased: docs/seeds.md says which of ours to call.

An alias names its operation by operation id, so that it follows the route wherever the route's
own declaration goes; an alias whose operation is gone, or whose path parameters differ, fails
at start-up, never at a request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TypeVar

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, compile_path

from offerengine.http.runtime import Operation

TAG = "seed aliases"
T = TypeVar("T")

# (method, the seed's path, our operation id): run-time operations.
RUNTIME: tuple[tuple[str, str, str], ...] = (
    ("POST", "/api/v1/quote", "quote"),
    ("GET", "/api/v1/feature-flags/key/{key}", "getFeatureFlagByKey"),
    ("POST", "/api/v1/feature-flags/{key}/evaluate", "evaluateFeatureFlag"),
    ("GET", "/api/v1/offers/{offer_id:offer_id}", "getOffer"),
)
# … and admin routes.
ADMIN: tuple[tuple[str, str, str], ...] = (
    ("GET", "/api/v1/commission-rates/{id:uuid}", "getCommissionRate"),
    ("PUT", "/api/v1/commission-rates/{id:uuid}", "updateCommissionRate"),
    # Seed 002's pricing rules (delivery and express fees, taxes) are our fee rules.
    ("GET", "/api/v1/pricing-rules/{id:uuid}", "getFeeRule"),
    ("PUT", "/api/v1/pricing-rules/{id:uuid}", "updateFeeRule"),
    ("DELETE", "/api/v1/pricing-rules/{id:uuid}", "deleteFeeRule"),
    ("GET", "/api/v1/feature-flags/{id:uuid}", "getFeatureFlag"),
    ("PUT", "/api/v1/feature-flags/{id:uuid}", "updateFeatureFlag"),
    ("GET", "/api/v1/analytics/pricing", "pricingAnalytics"),
    ("GET", "/api/v1/analytics/commission", "commissionAnalytics"),
)


def alias_id(operation_id: str) -> str:
    """The alias's operation id: ``quote`` → ``seedQuote``."""
    return f"seed{operation_id[:1].upper()}{operation_id[1:]}"


def runtime_aliases(operations: Iterable[Operation]) -> list[Operation]:
    """The run-time operations' aliases, as operations of their own."""
    by_id = {op.operation_id: op for op in operations}
    aliases = []
    for method, path, operation_id in RUNTIME:
        op = _named(by_id, operation_id, method)
        _same_parameters(path, op.path_format)
        aliases.append(
            dataclasses.replace(
                op,
                path_format=path,
                operation_id=alias_id(operation_id),
                tags=[TAG],
                summary=f"{op.summary} (seed alias)",
                description=_described(method, path, op.path_format, op.description),
                alias_of=operation_id,
            )
        )
    return aliases


def admin_aliases(routes: Sequence[BaseRoute]) -> list[APIRoute]:
    """The admin routes' aliases, as routes of their own with the same endpoints."""
    by_id = {
        r.operation_id: r for r in routes if isinstance(r, APIRoute) and r.operation_id is not None
    }
    aliases = []
    for method, path, operation_id in ADMIN:
        route = _named(by_id, operation_id, method)
        _same_parameters(path, route.path)
        aliases.append(
            type(route)(  # the same route class: its checks of bodies
                path,
                route.endpoint,
                methods=[method],
                response_model=route.response_model,
                status_code=route.status_code,
                tags=[TAG],
                dependencies=route.dependencies,
                summary=f"{route.summary or route.name} (seed alias)",
                description=_described(method, path, route.path, route.description),
                response_description=route.response_description,
                responses=route.responses,
                deprecated=True,
                operation_id=alias_id(operation_id),
                response_class=route.response_class,
                name=f"seed_{route.name}",
                openapi_extra=route.openapi_extra,
            )
        )
    return aliases


def _named(by_id: dict[str, T], operation_id: str, method: str) -> T:
    found = by_id.get(operation_id)
    if found is None:
        raise LookupError(f"seed alias: no operation {operation_id!r} ({method})")
    return found


def _same_parameters(alias: str, ours: str) -> None:
    if compile_path(alias)[2].keys() != compile_path(ours)[2].keys():
        raise ValueError(f"seed alias {alias} does not take the parameters of {ours}")


def _described(method: str, alias: str, ours: str, description: str) -> str:
    seed = "Seed 000's" if alias.startswith("/api/v1/offers") else "Seed 002's"
    return (
        f"{seed} `{method} {_plain(alias)}`: an alias of `{method} {_plain(ours)}`, the same "
        f"handler (prefer ours; see docs/seeds.md).\n\n{description}"
    )


def _plain(path: str) -> str:
    """A path template as people read it: ``{id:uuid}`` → ``{id}``."""
    return compile_path(path)[1]
