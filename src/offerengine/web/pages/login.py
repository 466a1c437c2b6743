"""Logging in and out of the admin UI, and a platform user's choice of the tenant to work on."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from offerengine import __version__
from offerengine.auth import logins, users
from offerengine.auth.sessions import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SessionCodec,
    new_token,
    same_token,
)
from offerengine.deps import context_of
from offerengine.errors import Invalid, Unavailable
from offerengine.starters import library
from offerengine.tenants import service as tenants
from offerengine.web.pages.layout import checked_form, render, safe_next, templates
from offerengine.web.session import (
    Visitor,
    codec_of,
    secure_cookies,
    set_session,
    switch_tenant,
    to_login,
)

router = APIRouter(include_in_schema=False)


def _login_form(
    request: Request,
    codec: SessionCodec,
    *,
    next_url: str,
    error: str | None = None,
    email: str = "",
    status: int = 200,
    retry_after: float = 0.0,
) -> Response:
    """The login page, with a fresh CSRF token in its form and in the login cookie."""
    token = new_token()
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "csrf": token,
            "next": next_url,
            "error": error,
            "email": email,
            "version": __version__,
        },
        status_code=status,
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else None,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        codec.dump_login(token),
        max_age=3600,
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    return response


@router.get("/admin/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    return _login_form(request, await codec_of(request), next_url=safe_next(next))


@router.post("/admin/login")
async def login(request: Request) -> Response:
    ctx = context_of(request)
    codec = await codec_of(request)
    form = await request.form(max_files=0, max_fields=10)
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or ""))

    def again(message: str, status: int, retry_after: float = 0.0) -> Response:
        return _login_form(
            request,
            codec,
            next_url=next_url,
            error=message,
            email=email,
            status=status,
            retry_after=retry_after,
        )

    expected = codec.load_login(request.cookies.get(LOGIN_COOKIE))
    if expected is None or not same_token(str(form.get(CSRF_FIELD) or ""), expected):
        return again("The login form expired. Please try again.", 403)
    if not email or not password:
        return again("Enter your email and password.", 422)
    admin = ctx.admin
    attempt = logins.LoginAttempt(
        email=email,
        password=password,
        account=codec.account_tag(users.normal_email(email)),
        address=admin.proxies.client(request.scope),
    )
    try:
        outcome = await logins.log_in(
            ctx, guard=admin.guard, passwords=admin.passwords, attempt=attempt
        )
    except Unavailable:
        return again("Logging in is not possible right now. Try again shortly.", 503, 5)
    if outcome.busy:
        return again("The server is busy. Try again in a moment.", 503, outcome.retry_after)
    if outcome.retry_after > 0:
        return again(_refusal(outcome.retry_after), 429, outcome.retry_after)
    if outcome.user is None:
        return again("Wrong email or password.", 401)
    user = outcome.user
    response = RedirectResponse(next_url, status_code=303)
    set_session(response, request, codec, users.new_session(user))
    response.delete_cookie(LOGIN_COOKIE, path="/admin")
    return response


def _refusal(wait: float) -> str:
    """Why a login was refused, and for how long, in words."""
    if wait < 90:
        seconds = max(1, math.ceil(wait))
        return f"Too many failed attempts. Try again in {seconds} second{'s' * (seconds != 1)}."
    minutes = round(wait / 60)
    return f"Too many failed attempts. Try again in about {minutes} minutes."


@router.post("/admin/logout")
async def logout(request: Request, visitor: Visitor) -> Response:
    await checked_form(request, visitor)
    await logins.log_out(context_of(request), visitor.user.id)
    response = to_login()
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/admin/tenants")
async def tenants_page(request: Request, visitor: Visitor) -> Response:
    if not visitor.is_platform:
        return RedirectResponse("/admin", status_code=303)
    found = await tenants.all_tenants(context_of(request))
    return await render(
        request,
        "tenants.html",
        visitor,
        tenants=found,
        template_sets=list(library.template_sets().values()),
    )


@router.post("/admin/tenant")
async def switch(request: Request, visitor: Visitor) -> Response:
    form = await checked_form(request, visitor)
    if not visitor.is_platform:
        raise Invalid.field(("body", "tenant"), "only a platform user switches tenants")
    found = await tenants.all_tenants(context_of(request))
    chosen = next((t for t in found if t.code == form.get("tenant")), None)
    if chosen is None:
        raise Invalid.field(("body", "tenant"), "no such tenant")
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    set_session(
        response, request, await codec_of(request), switch_tenant(visitor.session, chosen.id)
    )
    return response
