"""Cheap JSON bodies for hot endpoints.

FastAPI's body handling (parse, then validate the Python objects, through its dependency machinery)
costs tens of µs per request. Hot endpoints read the raw body and validate it in one pass with
pydantic's JSON mode instead; :func:`documented` keeps the request schema in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from offerengine.errors import FieldError, Invalid, MalformedInput, UnsupportedMedia

M = TypeVar("M", bound=BaseModel)

# Request models of hot routes, added to the OpenAPI components by the app.
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
    """The request's bytes, once its media type is JSON (415 otherwise)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("application/json", "") and not media_type.endswith("+json"):
        raise UnsupportedMedia(
            f"Send application/json, not {media_type!r}.",
            [FieldError(("header", "Content-Type"), "expected application/json")],
        )
    return await request.body()


async def read_json(request: Request, model: type[M], *, empty_ok: bool = False) -> M:
    """The request body as ``model``: 415 for another media type, 400 for broken JSON, 422 naming
    the field for anything else."""
    body = await raw_body(request)
    if not body and empty_ok:
        body = b"{}"
    return validate(model, body)


def validate(model: type[M], data: bytes | Any) -> M:
    """``data`` (JSON bytes, or already decoded) as ``model``, with our error shapes."""
    try:
        if isinstance(data, bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            FieldError(("body", *e["loc"]), e["msg"], e["type"])
            for e in exc.errors(include_url=False)
        ]
        if any(e.type == "json_invalid" for e in errors) or data == b"":
            raise MalformedInput(
                "The request body is not valid JSON.",
                [FieldError(("body",), "not valid JSON", "json_invalid")],
            ) from exc
        raise Invalid.of(errors) from exc
