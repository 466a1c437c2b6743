"""Keyset pagination: opaque cursors and the page envelope every list returns (framework-free;
the query parameters routes declare are in :mod:`offerengine.http.query`)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from offerengine.errors import Invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000

Scalar = str | int | float | None
T = TypeVar("T")


def encode_cursor(values: Sequence[Scalar]) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Scalar]:
    """The sort-key values a cursor carries; a cursor that was not ours is a 422 on `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != arity
        or not all(isinstance(v, str | int | float) or v is None for v in values)
    ):
        raise Invalid.field(("query", "cursor"), "not a cursor returned by this list")
    return values


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null on the last page."
    )
    total: int | None = Field(
        default=None,
        description="How many objects match the filters, all pages together: given when the "
        "list is asked with `count=true`, counted in the database.",
    )
