"""Router defaults and small HTTP helpers shared by every domain router."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from offerengine.errors import Invalid
from offerengine.http import problems

# The problems any authenticated route may answer; documented so that clients (and schemathesis)
# know every status they can get.
COMMON_PROBLEMS = (400, 401, 403, 404, 409, 413, 422)


def router(*, prefix: str = "", tags: list[str], **kwargs: Any) -> APIRouter:
    return APIRouter(
        prefix=prefix, tags=list(tags), responses=problems.responses(*COMMON_PROBLEMS), **kwargs
    )


_ETAG = re.compile(r'^(?:W/)?"?(\d{1,18})"?$')


def parse_if_match(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=100,
            description='Optimistic concurrency: the version (ETag) the change is based on, e.g. "3".',
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match.strip())
    if found is None:
        raise Invalid.field(("header", "If-Match"), 'expected a version ETag such as "3"')
    return int(found.group(1))


def expected_version(header: int | None, body: int | None) -> int | None:
    """The version a change is based on, from If-Match or the body's ``version``."""
    if header is not None and body is not None and header != body:
        raise Invalid.field(("body", "version"), f"differs from If-Match ({header})")
    return header if header is not None else body


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'
