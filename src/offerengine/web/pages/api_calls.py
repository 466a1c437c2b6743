"""Writes of the JSON API made in process by the pages that post server-side (the quote builder,
the commission, fee and coupon tables): the visitor's session cookie and CSRF token go with the
call, so the API checks her rights and validates the document as it would from the browser; and
the field errors of its problem+json, keyed by the path they name, for a page to show beside its
inputs."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from offerengine.auth import users
from offerengine.auth.sessions import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, same_token
from offerengine.errors import Invalid
from offerengine.web.resources import ApiAnswer, api_call


async def api_send(
    request: Request,
    visitor: users.Visitor,
    method: str,
    path: str,
    document: Any,
    *,
    if_match: int | None = None,
) -> ApiAnswer:
    """``method`` ``path`` of this app's JSON API with ``document`` as its JSON body, in process,
    as the visitor (her cookie and her CSRF token); ``if_match``: the version it is based on."""
    body = json.dumps(document, default=str).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cookie", f"{SESSION_COOKIE}={request.cookies.get(SESSION_COOKIE, '')}".encode()),
        (CSRF_HEADER.encode(), visitor.session.csrf.encode()),
    ]
    if if_match is not None:
        headers.append((b"if-match", f'"{if_match}"'.encode()))
    return await api_call(request, method, path, headers=headers, body=body)


def field_errors(answer: ApiAnswer) -> dict[str, str]:
    """A refused write's errors by the path they name, ``body`` left out and the parts joined
    with dots (``items.2.quantity``); an error naming no field under ``""``."""
    errors: dict[str, str] = {}
    if answer.ok or not isinstance(answer.data, dict):
        return errors
    for error in answer.data.get("errors") or []:
        if not isinstance(error, dict):
            continue
        loc = [str(part) for part in error.get("loc") or [] if part != "body"]
        key = ".".join(loc)
        message = str(error.get("msg") or "")
        errors[key] = f"{errors[key]}; {message}" if key in errors else message
    return errors


async def posted_form(request: Request, visitor: users.Visitor, max_fields: int) -> FormData:
    """A server-side form's fields, once its CSRF token is found to be the session's."""
    form = await request.form(max_files=0, max_fields=max_fields)
    if not same_token(str(form.get(CSRF_FIELD) or ""), visitor.session.csrf):
        raise Invalid.field(("body", CSRF_FIELD), "missing or not this session's token")
    return form
