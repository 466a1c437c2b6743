"""Validating input with a pydantic model into our error shapes (framework-free, so that use cases
validate what they read as routes do)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from offerengine.errors import FieldError, Invalid, MalformedInput
from offerengine.wording import plain

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: bytes | Any) -> M:
    """``data`` (JSON bytes, or already decoded) as ``model``, with our error shapes."""
    try:
        if isinstance(data, bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            FieldError(("body", *e["loc"]), plain(e), e["type"])
            for e in exc.errors(include_url=False)
        ]
        if any(e.type == "json_invalid" for e in errors) or data == b"":
            raise MalformedInput(
                "The request body is not valid JSON.",
                [FieldError(("body",), "not valid JSON", "json_invalid")],
            ) from exc
        raise Invalid.of(errors) from exc
