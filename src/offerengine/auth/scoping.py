"""Tenant isolation, in one place: loading any tenant-owned object for the caller.

A tenant key sees only its own tenant's objects; anything else is a 404, exactly as if it did not
exist, on every route, read or write. Platform keys see every tenant. ``{tenant}`` paths are resolved
by ``offerengine.tenants.deps.path_tenant`` on the same rule (``Principal.sees_tenant``).
"""

# No `from __future__ import annotations` here: the loader's parameter annotations close over
# `what` and must be evaluated when the loader is made, for FastAPI to read them.
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol, TypeVar

import sqlalchemy as sa
from fastapi import Path

from offerengine.auth.deps import CurrentPrincipal
from offerengine.deps import DbSession
from offerengine.errors import NotFound


class TenantOwned(Protocol):
    id: Any
    tenant_id: Any


T = TypeVar("T", bound=TenantOwned)


def owned_loader(model: type[T], what: str) -> Callable[[uuid.UUID, Any, Any], Awaitable[T]]:
    """A dependency that loads ``model`` by the ``id`` path parameter, for the caller's tenant."""

    async def load(
        id: Annotated[uuid.UUID, Path(description=f"The {what}'s id.")],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> T:
        stmt = sa.select(model).where(model.id == id)
        if not principal.is_platform:
            stmt = stmt.where(model.tenant_id == principal.tenant_id)
        found = await session.scalar(stmt)
        if found is None:
            raise NotFound(f"No {what} {id}.")
        return found

    return load
