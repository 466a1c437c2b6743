"""Text the database cannot store, refused at the edge.

PostgreSQL's text types refuse NUL (U+0000), and no UTF-8 column can hold a lone UTF-16 surrogate
(U+D800-U+DFFF outside a pair): Python strings hold both, so without this check a request carrying
one is answered and its record then fails to store. Every request is checked here before anything
reads it:

1. A JSON body that is not UTF-8 is not JSON (RFC 8259 §8.1): :class:`MalformedInput`, a 400. An
   ASCII body (almost all of them) skips the decode.
2. Inside valid JSON, NUL and surrogates can only be written as escapes (a raw NUL is a control
   character JSON refuses, an encoded surrogate is not UTF-8), so one search of the raw bytes for
   ``\\u0000`` and for an unpaired ``\\uD800``-``\\uDFFF`` (any case) clears nearly every body;
   most have no ``\\u`` at all, and a pair (an emoji sent as ``\\ud83d\\ude00``) is no hit.
3. Only when it hits is the body decoded (by the standard library, which keeps lone surrogates)
   and walked, every string and every object key, to name each field at fault: :class:`Invalid`,
   a 422, like any other value the API does not take. A hit may be false (an escaped backslash
   before ``u0000``); the walk then finds nothing and the request goes on.

Paths and query strings are checked the same way by :func:`check_path` and :func:`check_query`, a
422 too: the URL is well-formed, one of its values is not one the API takes. (A lone surrogate
cannot arise there: servers decode invalid UTF-8 in a URL to U+FFFD, which is storable.)

An error never repeats the text at fault as it is (that would fail to encode, or to log): a key at
fault is shown with the character escaped, e.g. ``["body", "context", "a\\\\u0000b", "[key]"]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from offerengine.errors import FieldError, Invalid, Loc, MalformedInput

# An escape of NUL, of a high surrogate not followed by a low one, or of a low surrogate not
# preceded by a high one. It may hit where there is nothing (``\\\\u0000`` is the text
# ``\\u0000``; the walk then finds nothing) but never misses: a backslash after an escape's four
# digits always begins another escape, and a high "escape" that is preceded by a backslash may
# be text, so it does not pair (the inner lookbehind). It begins with the literal ``\\u``, which
# the regex engine skips ahead to.
_SUSPECT = re.compile(
    rb"\\u(?:0000"
    rb"|[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    rb"|[dD][c-fC-F](?<!(?<!\\)\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F]))"
)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

NUL = "string_nul"
SURROGATE = "string_lone_surrogate"


def check_json(raw: bytes, loc: Loc = ("body",)) -> None:
    """Refuse a JSON body that is not UTF-8 (400), or whose strings or keys hold NUL or a lone
    surrogate (422 naming each); anything else is left to the parser (broken JSON too, unless it
    holds such an escape)."""
    if not raw.isascii():
        try:
            raw.decode()
        except UnicodeDecodeError as exc:
            raise MalformedInput(
                f"The request body is not valid JSON: it is not UTF-8 (byte {exc.start}).",
                [FieldError(loc, f"not valid UTF-8 at byte {exc.start}", "json_invalid")],
            ) from None
    if b"\\" not in raw or _SUSPECT.search(raw) is None:  # memchr: most bodies have no escape
        return
    try:
        data = json.loads(raw.decode())
    except (ValueError, RecursionError):
        # Where the standard library cannot read a body, the stricter parsers behind us cannot
        # either; refusing here keeps the check closed rather than open.
        raise MalformedInput(
            "The request body is not valid JSON.",
            [FieldError(loc, "not valid JSON", "json_invalid")],
        ) from None
    check(data, loc)


def check(value: Any, loc: Loc = ("body",)) -> None:
    """Refuse decoded JSON whose strings or object keys hold NUL or a lone surrogate (422)."""
    errors: list[FieldError] = []
    stack: list[tuple[Any, Loc]] = [(value, loc)]
    while stack:  # a loop, not recursion: JSON may nest deeper than Python's stack
        item, at = stack.pop()
        if isinstance(item, str):
            if (fault := _fault(item)) is not None:
                errors.append(FieldError(at, *fault))
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                shown = shown_text(key)
                if (fault := _fault(key)) is not None:
                    errors.append(FieldError((*at, shown, "[key]"), *fault))
                stack.append((child, (*at, shown)))
        elif isinstance(item, list):
            stack.extend((child, (*at, i)) for i, child in reversed(list(enumerate(item))))
    if errors:
        raise Invalid.of(errors)


def check_path(path: str, params: Mapping[str, str] | None = None) -> None:
    """Refuse a (percent-decoded) path holding NUL (422), naming the path parameter at fault when
    ``params`` (the matched route's) has it."""
    if "\x00" not in path:
        return
    msg, kind = _NUL_FAULT
    named = [name for name, value in (params or {}).items() if "\x00" in value]
    locs: list[Loc] = [("path", name) for name in named] or [("path",)]
    raise Invalid.of([FieldError(loc, msg, kind) for loc in locs])


def check_query(query_string: bytes) -> None:
    """Refuse a raw query string whose names or values decode to text holding NUL (422)."""
    if b"%00" not in query_string and b"\x00" not in query_string:
        return
    errors: list[FieldError] = []
    # As Starlette reads it: Latin-1 bytes, percent-decoded as UTF-8 (invalid bytes become U+FFFD).
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        shown = shown_text(name)
        if (fault := _fault(name)) is not None:
            errors.append(FieldError(("query", shown, "[key]"), *fault))
        if (fault := _fault(value)) is not None:
            errors.append(FieldError(("query", shown), *fault))
    if errors:
        raise Invalid.of(errors)


def shown_text(text: str) -> str:
    """``text`` with NUL and lone surrogates written as JSON escapes, safe to encode and log."""
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_NUL_FAULT = ("holds a NUL character (U+0000), which cannot be stored", NUL)


def _fault(text: str) -> tuple[str, str] | None:
    """Why ``text`` cannot be stored, as (message, type), or None."""
    if "\x00" in text:
        return _NUL_FAULT
    if text.isascii():
        return None
    try:
        text.encode()
    except UnicodeEncodeError as exc:  # only a lone surrogate: json pairs the valid ones
        found = f"U+{ord(text[exc.start]):04X}"
        return f"holds a lone UTF-16 surrogate ({found}), which cannot be stored", SURROGATE
    return None
