"""Pydantic's validation messages as sentences a person can act on.

Pydantic words its errors for programmers: ``Value error, …``, ``String should match pattern
'^[A-Z]{3}$'``, ``Input should be a valid integer, unable to parse string as an integer``. A
problem document's ``msg`` says instead what the field must be, in the voice of the API's own
messages (``"must be a three-letter ISO currency code such as EUR"``), so the person reading it
knows what to send. :func:`plain` rewrites one error by its ``type`` (pydantic's stable error
codes, which stay in the problem's ``type``) and its context:

- a message a validator of ours wrote (``value_error``, ``assertion_error``) loses pydantic's
  prefix and is otherwise kept: it already says what is wrong;
- a pattern is described in words: the codes the API takes by name (currency, country, airport,
  route) by what they are, any other pattern of one or two character classes by its characters
  (``must start with a letter or digit, then up to 63 letters, digits, '_', '.' or '-'``), and
  only a pattern too intricate for that is quoted;
- the other common types get a sentence of their own; any type not listed keeps pydantic's
  message with ``Input should be`` turned into ``must be``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_PREFIXES = ("Value error, ", "Assertion failed, ")

# Field names (the last part of the location) that say which code a pattern of letters is.
_CODES: tuple[tuple[str, str, str], ...] = (
    # (pattern, the field name contains, the sentence)
    (r"^[A-Z]{3}$", "currency", "must be a three-letter ISO currency code such as EUR"),
    (r"^[A-Za-z]{3}$", "currency", "must be a three-letter ISO currency code such as EUR"),
    (r"^[A-Z]{2}$", "country", "must be a two-letter ISO country code such as TR"),
    (r"^[A-Za-z]{2}$", "country", "must be a two-letter ISO country code such as TR"),
)
_AIRPORT_FIELDS = ("origin", "destination", "iata", "airport")
_AIRPORT = "must be a three-letter IATA airport code such as JFK"
_PATTERNS = {
    r"^[A-Z]{3}-[A-Z]{3}$": "must be two IATA airport codes joined by a hyphen, such as JFK-LHR",
    r"^[0-9a-f]{32}$": "must be 32 lower-case hexadecimal digits",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "must be an email address such as ann@example.com",
    r"^[0-9]{1,4}[A-Z]?$": "must be a flight number: 1 to 4 digits and maybe a letter, such as 100",
    "^(|true|false)$": "must be true or false (or empty)",
}

_CLASS_PARTS = (
    ("A-Za-z", "letters", "a letter"),
    ("A-Z", "capital letters", "a capital letter"),
    ("a-z", "lower-case letters", "a lower-case letter"),
    ("0-9", "digits", "a digit"),
)
_TOKEN = re.compile(r"\[([^\]]+)\](\{(\d+)(?:,(\d+))?\}|\+|\*|\?)?")


def plain(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error (an item of ``ValidationError.errors()``) in words."""
    kind = str(error.get("type", ""))
    msg = str(error.get("msg", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    loc = error.get("loc") or ()
    field = str(loc[-1]).lower() if loc else ""
    for prefix in _PREFIXES:
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    if kind == "string_pattern_mismatch":
        return _pattern(str(ctx.get("pattern", "")), field)
    sentence = _SENTENCES.get(kind)
    if sentence is not None:
        return sentence(ctx)
    return msg.replace("Input should be", "must be").replace("Input should", "must")


def _count(n: Any, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


_SENTENCES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda _: "is required",
    "extra_forbidden": lambda _: "is not a field of this input; check its spelling",
    "string_type": lambda _: "must be a string",
    "int_type": lambda _: "must be a whole number",
    "int_parsing": lambda _: "must be a whole number",
    "int_from_float": lambda _: "must be a whole number",
    "float_type": lambda _: "must be a number",
    "float_parsing": lambda _: "must be a number",
    "decimal_type": lambda _: "must be a decimal number such as 12.50",
    "decimal_parsing": lambda _: "must be a decimal number such as 12.50",
    "decimal_max_places": lambda c: (
        f"must have at most {_count(c.get('decimal_places'), 'decimal place', 'decimal places')}"
    ),
    "decimal_max_digits": lambda c: (
        f"must have at most {_count(c.get('max_digits'), 'digit', 'digits')} in all"
    ),
    "decimal_whole_digits": lambda c: (
        f"must have at most {_count(c.get('whole_digits'), 'digit', 'digits')} before the point"
    ),
    "bool_type": lambda _: "must be true or false",
    "bool_parsing": lambda _: "must be true or false",
    "string_too_short": lambda c: (
        "must not be empty"
        if c.get("min_length") == 1
        else f"must be at least {_count(c.get('min_length'), 'character', 'characters')} long"
    ),
    "string_too_long": lambda c: (
        f"must be at most {_count(c.get('max_length'), 'character', 'characters')} long"
    ),
    "too_short": lambda c: f"must have at least {_count(c.get('min_length'), 'item', 'items')}",
    "too_long": lambda c: f"must have at most {_count(c.get('max_length'), 'item', 'items')}",
    "greater_than": lambda c: f"must be greater than {c.get('gt')}",
    "greater_than_equal": lambda c: f"must be at least {c.get('ge')}",
    "less_than": lambda c: f"must be less than {c.get('lt')}",
    "less_than_equal": lambda c: f"must be at most {c.get('le')}",
    "literal_error": lambda c: f"must be {c.get('expected')}",
    "enum": lambda c: f"must be {c.get('expected')}",
    "uuid_type": lambda _: "must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "uuid_parsing": lambda _: "must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "datetime_type": lambda _: (
        "must be an ISO 8601 date-time with a zone, such as 2026-11-22T10:00:00Z"
    ),
    "datetime_parsing": lambda _: (
        "must be an ISO 8601 date-time with a zone, such as 2026-11-22T10:00:00Z"
    ),
    "datetime_from_date_parsing": lambda _: (
        "must be an ISO 8601 date-time with a zone, such as 2026-11-22T10:00:00Z"
    ),
    "timezone_aware": lambda _: (
        "must say its time zone, such as 2026-11-22T10:00:00Z or 2026-11-22T12:00:00+02:00"
    ),
    "date_type": lambda _: "must be an ISO 8601 date such as 2026-12-20",
    "date_parsing": lambda _: "must be an ISO 8601 date such as 2026-12-20",
    "date_from_datetime_parsing": lambda _: "must be an ISO 8601 date such as 2026-12-20",
    "dict_type": lambda _: "must be a JSON object",
    "model_type": lambda _: "must be a JSON object",
    "model_attributes_type": lambda _: "must be a JSON object",
    "list_type": lambda _: "must be a JSON array",
    "none_required": lambda _: "must be null",
}


def _pattern(pattern: str, field: str) -> str:
    for known, named, sentence in _CODES:
        if pattern == known and named in field:
            return sentence
    if pattern in (r"^[A-Z]{3}$", r"^[A-Za-z]{3}$") and any(f in field for f in _AIRPORT_FIELDS):
        return _AIRPORT
    return _PATTERNS.get(pattern) or _described(pattern) or f"must match the pattern {pattern}"


def _described(pattern: str) -> str | None:
    """``^[A-Z0-9]{2,10}$`` → ``must be 2 to 10 capital letters or digits``; None for a
    pattern that is not one or two character classes between ``^`` and ``$``."""
    if not (pattern.startswith("^") and pattern.endswith("$")):
        return None
    body = pattern[1:-1]
    tokens = []
    at = 0
    while at < len(body):
        found = _TOKEN.match(body, at)
        if found is None:
            return None
        tokens.append(found)
        at = found.end()
    if len(tokens) == 1:
        chars = _chars(tokens[0].group(1))
        low, high = _bounds(tokens[0])
        if chars is None or low is None:
            return None
        many, _one = chars
        if high is None:
            return f"must be {'one' if low <= 1 else f'at least {low}'} or more {many}"
        if low == high:
            return f"must be {low} {many}"
        return f"must be {low} to {high} {many}"
    if len(tokens) == 2 and tokens[0].group(2) is None:
        first, rest = _chars(tokens[0].group(1)), _chars(tokens[1].group(1))
        low, high = _bounds(tokens[1])
        if first is None or rest is None or low is None:
            return None
        then = f"up to {high} {rest[0]}" if high is not None else f"any number of {rest[0]}"
        return f"must start with {first[1]}, then {then}"
    return None


def _bounds(token: re.Match[str]) -> tuple[int | None, int | None]:
    quantifier = token.group(2)
    if quantifier is None:
        return 1, 1
    if quantifier == "+":
        return 1, None
    if quantifier == "*":
        return 0, None
    if quantifier == "?":
        return 0, 1
    low = int(token.group(3))
    return low, int(token.group(4)) if token.group(4) is not None else low


def _chars(cls: str) -> tuple[str, str] | None:
    """A character class in words, for many and for one: ``A-Z0-9_`` → (``capital letters,
    digits or '_'``, ``a capital letter, a digit or '_'``)."""
    if cls.startswith("^"):
        return None
    many: list[str] = []
    one: list[str] = []
    rest = cls.replace("\\-", "-").replace("\\.", ".")
    for part, plural, single in _CLASS_PARTS:
        if part in rest:
            rest = rest.replace(part, "", 1)
            many.append(plural)
            one.append(single)
    for char in rest:
        if char.isalnum() or char in "\\[]":
            return None
        many.append(f"'{char}'")
        one.append(f"'{char}'")
    if not many:
        return None
    return _listed(many), _listed(one)


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
