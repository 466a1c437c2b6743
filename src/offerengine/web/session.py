"""Who is looking at an admin page: the session cookie read, the user loaded, or a redirect to
the login page; and the tenant she works on. Pages read through the use cases of the packages
that own what they show; forms write through the JSON API, which takes the same cookie (see
``offerengine.auth.deps``)."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.responses import RedirectResponse, Response

from offerengine.auth import logins, users
from offerengine.auth.sessions import SESSION_COOKIE, SessionCodec, SessionData
from offerengine.deps import context_of
from offerengine.tenants import service as tenants
from offerengine.tenants.models import Tenant

LOGIN = "/admin/login"


class LoginRequired(Exception):
    """The page needs a session; the visitor is sent to the login page and back."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class TenantRequired(Exception):
    """A platform user has not chosen the tenant to work on yet."""


async def codec_of(request: Request) -> SessionCodec:
    return await context_of(request).admin.codec()


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def current_visitor(request: Request) -> users.Visitor:
    ctx = context_of(request)
    data = (await ctx.admin.codec()).load(request.cookies.get(SESSION_COOKIE))
    if data is None:
        raise LoginRequired(_here(request))
    found = await logins.visitor(ctx, data)
    if found is None:
        raise LoginRequired(_here(request))
    return found


Visitor = Annotated[users.Visitor, Depends(current_visitor)]


async def current_tenant(request: Request, visitor: Visitor) -> Tenant:
    tenant_id = visitor.principal.tenant_id
    if tenant_id is None:
        raise TenantRequired
    tenant = await tenants.tenant_by_id(context_of(request), tenant_id)
    if tenant is None:
        raise TenantRequired
    return tenant


PageTenant = Annotated[Tenant, Depends(current_tenant)]


def secure_cookies(request: Request) -> bool:
    """Whether cookies get ``Secure``: the request came over HTTPS (itself, or by a trusted
    proxy's word), or the deployment says always."""
    admin = context_of(request).admin
    return admin.secure_cookies or admin.proxies.is_https(request.scope)


def set_session(
    response: Response, request: Request, codec: SessionCodec, data: SessionData
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        codec.dump(data),
        max_age=codec.max_age_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def switch_tenant(data: SessionData, tenant_id: uuid.UUID | None) -> SessionData:
    return SessionData(data.user_id, tenant_id, data.csrf, data.epoch)


def to_login(next_url: str = "/admin") -> RedirectResponse:
    return RedirectResponse(f"{LOGIN}?next={quote(next_url, safe='/')}", status_code=303)
