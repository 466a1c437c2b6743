"""Reading JSON bodies: checked for text the database cannot store, validated in one pass.

Run-time operations (:mod:`offerengine.http.runtime`) and the admin routes that take more than one
shape of body read the raw body and validate it with pydantic's JSON mode; :func:`documented` keeps
such an admin route's request schema in the OpenAPI document.

Every such body is read through :func:`raw_body`, which refuses text the database cannot store
(:mod:`offerengine.text`) before a byte of it is parsed; routes whose bodies FastAPI parses get the
same check from :class:`~offerengine.http.routing.CheckedRoute`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel

from offerengine import text
from offerengine.errors import FieldError, UnsupportedMedia
from offerengine.validation import validate

M = TypeVar("M", bound=BaseModel)
__all__ = ["documented", "raw_body", "read_json", "validate"]

# Request models of admin routes that read their bodies raw, added to the OpenAPI components.
DOCUMENTED: dict[str, type[BaseModel]] = {}


def documented(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the route's JSON request body."""
    DOCUMENTED[model.__name__] = model
    return {
        "requestBody": {
            "required": required,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


async def raw_body(request: Request) -> bytes:
    """The request's bytes, once its media type is JSON (415 otherwise), they are UTF-8 (400
    otherwise) and no string or key in them holds text the database cannot store (422 naming
    the field otherwise)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("application/json", "") and not media_type.endswith("+json"):
        raise UnsupportedMedia(
            f"Send application/json, not {media_type!r}.",
            [FieldError(("header", "Content-Type"), "expected application/json")],
        )
    body = await request.body()
    text.check_json(body)
    return body


async def read_json(request: Request, model: type[M], *, empty_ok: bool = False) -> M:
    """The request body as ``model``: 415 for another media type, 400 for broken JSON, 422 naming
    the field for anything else."""
    body = await raw_body(request)
    if not body and empty_ok:
        body = b"{}"
    return validate(model, body)
