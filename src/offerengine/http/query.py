"""Query parameters shared by list routes (the web layer's side of :mod:`offerengine.pagination`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from offerengine.pagination import MAX_LIMIT

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (at most {MAX_LIMIT}).")]
Count = Annotated[
    bool,
    Query(description="Also count the objects matching the filters, in `total` (a second query)."),
]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=500, description="The `next_cursor` of the previous page."),
]
