"""Facts as callers send them (JSON) turned into typed facts for a vocabulary, or field errors."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from offerengine.errors import FieldError, Loc
from offerengine.rules.types import ANY, BOOLEAN, DATE, DATETIME, NUMBER, STRING, Type
from offerengine.rules.vocabulary import Vocabulary

MAX_DEPTH = 5


def flatten(payload: Mapping[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """{"customer": {"tier": "GOLD"}} → {"customer.tier": "GOLD"}."""
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and depth < MAX_DEPTH:
            flat.update(flatten(value, f"{name}.", depth + 1))
        else:
            flat[name] = value
    return flat


def read_facts(
    payload: Mapping[str, Any],
    vocabulary: Vocabulary,
    *,
    loc: Loc,
    reserved: Iterable[str] = (),
) -> tuple[dict[str, Any], list[FieldError]]:
    """Typed facts from ``payload``, and what is wrong with it. ``reserved`` facts come from
    elsewhere (the product) and may not be given."""
    facts: dict[str, Any] = {}
    errors: list[FieldError] = []
    taken = set(reserved)
    for name, value in flatten(payload).items():
        where = (*loc, *name.split("."))
        if name in taken:
            errors.append(FieldError(where, f"{name} comes from the product and cannot be given"))
            continue
        fact = vocabulary.lookup(name)
        if fact is None:
            close = difflib.get_close_matches(name, list(vocabulary.facts), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            errors.append(
                FieldError(where, f"unknown fact {name!r} for {vocabulary.use} rules{hint}")
            )
            continue
        if value is None:
            continue  # an absent fact: rules that read it do not apply
        try:
            facts[name] = convert(value, fact.type)
        except ValueError as exc:
            errors.append(FieldError(where, str(exc)))
    return facts, errors


def convert(value: Any, wanted: Type) -> Any:
    """A JSON value as a fact of type ``wanted``; ValueError says why it is not one."""
    if wanted is ANY:  # the request facts of every decision: the common kinds first
        kind = type(value)
        if kind is str or kind is bool:
            return value
        if kind is int:
            return Decimal(value)  # exactly Decimal(str(value))
    if wanted == NUMBER or (
        wanted == ANY and isinstance(value, int | float) and not isinstance(value, bool)
    ):
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValueError(f"expected a number, not {value!r}")
        try:
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"expected a number, not {value!r}") from None
        if not number.is_finite():
            raise ValueError("expected a finite number")
        return number
    if wanted == STRING:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, not {value!r}")
        return value
    if wanted == BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, not {value!r}")
        return value
    if wanted == DATE:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"expected an ISO date such as 2026-12-20, not {value!r}") from None
    if wanted == DATETIME:
        try:
            parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ValueError(f"expected an ISO date-time with a zone, not {value!r}")
        return parsed
    if isinstance(value, list):
        return tuple(convert(item, ANY) for item in value)
    return value
