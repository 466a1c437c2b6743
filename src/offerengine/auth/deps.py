"""Authentication and permission dependencies. Every route but health and docs uses one of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from offerengine.auth import users
from offerengine.auth.core import ROLE_PERMISSIONS, Actor, Permission, Principal, Role
from offerengine.auth.sessions import CSRF_HEADER, SESSION_COOKIE, same_token
from offerengine.context import AppContext
from offerengine.deps import READ_METHODS, Ctx, request_id
from offerengine.errors import FieldError, Forbidden, Unauthenticated
from offerengine.versioning import service as versioning

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An API key: `Authorization: Bearer oek_…`. Keys are tenant-scoped with a role.",
)


# OFREP's OpenAPI names two ways to send a key: a Bearer token, or an X-API-Key header.
api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="OFREP's alternative to `Authorization: Bearer`: the same API key.",
)

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


async def authenticate(request: Request, ctx: Ctx, credentials: Credentials) -> Principal:
    """The caller of this request; 401 without a live key."""
    return await principal_of(request, ctx, credentials.credentials if credentials else None)


async def principal_of(request: Request, ctx: AppContext, secret: str | None) -> Principal:
    """Authenticate a request by its bearer ``secret`` or else its admin UI session (a plain
    call, for dependencies on the hot path to use directly)."""
    if not secret:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthenticated("Send an API key: Authorization: Bearer <key>.")
        principal = await _session_principal(request, ctx, cookie)
    else:
        found = await ctx.keys.verify(secret)
        if found is None:
            raise Unauthenticated("The API key is unknown or revoked.")
        principal = found
    request.scope.setdefault("state", {})["principal"] = principal
    if principal.is_platform:
        await _audit_platform_use(request, ctx, principal)
    return principal


async def _session_principal(request: Request, ctx: AppContext, cookie: str) -> Principal:
    """The principal of an admin UI session: the API takes the UI's cookie as it takes a key, with
    the session's CSRF token on every request that may change something."""
    data = (await ctx.admin.codec()).load(cookie)
    if data is None:
        raise Unauthenticated("The session has ended: log in again.")
    if request.method not in READ_METHODS and not same_token(
        request.headers.get(CSRF_HEADER), data.csrf
    ):
        raise Forbidden(
            "A request made with the admin UI's session needs its CSRF token.",
            [FieldError(("header", "X-CSRF-Token"), "missing or not this session's token")],
        )
    async with ctx.session_factory() as session:
        found = await users.visitor(session, data)
    if found is None:
        raise Unauthenticated("The session has ended: log in again.")
    return found.principal


async def _audit_platform_use(request: Request, ctx: AppContext, principal: Principal) -> None:
    # Every use of a platform key is audited, reads included, in a transaction of its own so that
    # the record stays even when the request itself fails.
    async with ctx.session_factory() as session:
        versioning.audit(
            session,
            actor=principal.actor(request_id(request)),
            action="platform.access",
            tenant_id=None,
            detail=f"{request.method} {request.url.path}",
        )
        await session.commit()


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
RUNTIME_NEEDS_TENANT = "Run-time endpoints take a tenant key: the key implies the tenant."


def check_permission(principal: Principal, permission: Permission) -> None:
    if principal.is_platform and permission is Permission.RUNTIME:
        raise Forbidden(RUNTIME_NEEDS_TENANT)
    if not principal.can(permission):
        raise Forbidden(refusal(principal.role, permission))


def refusal(role: Role, permission: Permission) -> str:
    """Why a key of ``role`` is refused, and which keys may: "An editor key may not do this: it
    needs the runtime permission, which owner and runtime keys have."."""
    article = "An" if role.value[0] in "aeiou" else "A"
    holders = sorted(
        r.value
        for r, granted in ROLE_PERMISSIONS.items()
        if permission in granted and r is not Role.PLATFORM
    )
    which = " and ".join(holders) + " keys have" if holders else "only the platform key has"
    return (
        f"{article} {role.value} key may not do this: it needs the {permission.value} "
        f"permission, which {which}."
    )


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: CurrentPrincipal) -> Principal:
        check_permission(principal, permission)
        return principal

    return check


ConfigReader = Annotated[Principal, Depends(require(Permission.CONFIG_READ))]
ConfigWriter = Annotated[Principal, Depends(require(Permission.CONFIG_WRITE))]
KeyManager = Annotated[Principal, Depends(require(Permission.KEYS_MANAGE))]
PlatformCaller = Annotated[Principal, Depends(require(Permission.TENANTS_MANAGE))]


async def current_actor(request: Request, principal: CurrentPrincipal) -> Actor:
    return principal.actor(request_id(request))


CurrentActor = Annotated[Actor, Depends(current_actor)]
