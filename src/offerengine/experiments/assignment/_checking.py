"""Checking a targeting condition when it is saved, so that a typo is a 422, not a dark flag."""

import re
from typing import Any

from offerengine.experiments.assignment._conditions import (
    VALUE_OPERATORS,
    is_operator_object,
    regex,
)

__all__ = ["Path", "condition_errors"]


_JSON_TYPES = frozenset({"null", "boolean", "number", "string", "array", "object"})
Path = tuple[str | int, ...]


def condition_errors(condition: Any, path: Path = ()) -> list[tuple[Path, str]]:
    """Everything wrong with a targeting condition, each with where it is.

    GrowthBook quietly fails a condition it cannot read; we refuse it when it is saved instead, so
    that a typo such as ``$gte`` spelled ``$gtr`` cannot switch a flag off for everyone.
    """
    if not isinstance(condition, dict):
        return [(path, "a condition is a JSON object")]
    found: list[tuple[Path, str]] = []
    for key, value in condition.items():
        where = (*path, key)
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list):
                found.append((where, f"{key} takes a list of conditions"))
            else:
                for i, item in enumerate(value):
                    found += condition_errors(item, (*where, i))
        elif key == "$not":
            found += condition_errors(value, where)
        elif key.startswith("$"):
            found.append((where, f"unknown condition operator {key!r}"))
        else:
            found += _value_errors(value, where)
    return found


def _value_errors(value: Any, path: Path) -> list[tuple[Path, str]]:
    if not is_operator_object(value) or not value:
        return []  # an implicit equality
    found: list[tuple[Path, str]] = []
    for op, arg in value.items():
        where = (*path, op)
        if op not in VALUE_OPERATORS:
            found.append((where, f"unknown operator {op!r}"))
        elif op in ("$in", "$nin", "$ini", "$nini", "$all", "$alli") and not isinstance(arg, list):
            found.append((where, f"{op} takes a list"))
        elif op == "$exists" and not isinstance(arg, bool):
            found.append((where, "$exists takes true or false"))
        elif op == "$type" and arg not in _JSON_TYPES:
            found.append((where, f"$type is one of {', '.join(sorted(_JSON_TYPES))}"))
        elif op in ("$inGroup", "$notInGroup") and not isinstance(arg, str):
            found.append((where, f"{op} takes a saved group's name"))
        elif op in ("$regex", "$regexi"):
            if not isinstance(arg, str):
                found.append((where, f"{op} takes a pattern string"))
            else:
                try:
                    regex(arg)
                except re.error as exc:
                    found.append((where, f"not a valid regular expression: {exc}"))
        elif op == "$elemMatch":
            found += (
                condition_errors(arg, where)
                if not is_operator_object(arg)
                else (_value_errors(arg, where))
            )
        elif op in ("$not", "$size"):
            found += _value_errors(arg, where)
    return found
