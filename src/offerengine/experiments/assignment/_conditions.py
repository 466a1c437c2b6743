"""GrowthBook's targeting conditions: a MongoDB-like language over a unit's attributes.

Follows GrowthBook's SDK specification and its test cases (0.8.0, run by
tests/unit/test_growthbook_spec.py), and where the specification leaves a question open, the
JavaScript SDK it is written from:

- a plain value is an equality test on JSON values, in JSON's terms: ``1`` never equals ``true``
  nor ``"1"``, objects compare key by key in order (the specification's "deep comparison");
- ``$eq``, ``$ne``, ``$in`` and the like compare as JavaScript's ``===``: no conversion, and an
  array or an object never equals anything;
- ``$lt``, ``$lte``, ``$gt`` and ``$gte`` order as JavaScript's ``<`` (see ``_js``): a numeric
  string against a number orders as a number, and a missing attribute as ``null``, that is 0;
- ``$ini``, ``$nini``, ``$alli`` and ``$regexi`` are ``$in``, ``$nin``, ``$all`` and ``$regex``
  ignoring case (strings are compared lower-cased);
- versions (``$veq`` … ``$vgte``) compare padded (``padded_version``), a missing one as ``"0"``;
- ``$regex`` and ``$regexi`` test the attribute's text (JavaScript's ``String()``);
- anything malformed (a bad pattern, an operator GrowthBook does not define) never matches, and
  ``$not`` cannot turn that failure into a match.
"""

import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from offerengine.experiments.assignment._js import js_number_text, js_order, js_text, js_truthy

__all__ = [
    "CONDITION_OPERATORS",
    "VALUE_OPERATORS",
    "eval_condition",
    "is_operator_object",
    "json_type",
    "padded_version",
    "regex",
]

# How one value operator tests an attribute: (actual, argument, saved groups) -> matches.
Test = Callable[[Any, Any, Any], bool]

# Operators that combine conditions, and operators that test one attribute's value.
CONDITION_OPERATORS = frozenset({"$and", "$or", "$nor", "$not"})
_FIELD_CONDITIONS = frozenset({"$and", "$or", "$nor"})
VALUE_OPERATORS = frozenset(
    {
        "$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin", "$ini", "$nini", "$exists",
        "$type", "$regex", "$regexi", "$elemMatch", "$size", "$all", "$alli", "$not", "$vgt",
        "$vgte", "$vlt", "$vlte", "$veq", "$vne", "$inGroup", "$notInGroup",
    }
)  # fmt: skip


def json_type(value: Any) -> str:
    """The JSON type name GrowthBook's `$type` compares with."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"


def eval_condition(
    attributes: Mapping[str, Any],
    condition: Mapping[str, Any],
    saved_groups: Mapping[str, Any] | None = None,
) -> bool:
    """Whether the attributes satisfy a GrowthBook targeting condition."""
    try:
        return _condition(attributes, condition, saved_groups)
    except (TypeError, ValueError, AttributeError, RecursionError):
        # A malformed condition never matches, and `$not` cannot turn the failure into a match.
        return False


def _condition(attrs: Any, condition: Mapping[str, Any], groups: Mapping[str, Any] | None) -> bool:
    for key, value in condition.items():
        if key == "$or":
            ok = _any(attrs, value, groups)
        elif key == "$nor":
            ok = not _any(attrs, value, groups)
        elif key == "$and":
            ok = all(_condition(attrs, c, groups) for c in value)
        elif key == "$not":
            ok = not _condition(attrs, value, groups)
        else:
            ok = _value_matches(value, _path(attrs, key), groups)
        if not ok:
            return False
    return True


def _any(attrs: Any, conditions: Sequence[Mapping[str, Any]], groups: Any) -> bool:
    # An empty $or passes, as in GrowthBook.
    return not conditions or any(_condition(attrs, c, groups) for c in conditions)


def _path(attrs: Any, path: str) -> Any:
    current = attrs
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part == "length":
            current = len(current)
        elif isinstance(current, list) and _index(part, len(current)):
            current = current[int(part)]
        else:
            return None
    return current


def _index(key: str, length: int) -> bool:
    return (
        0 < len(key) <= 10
        and key.isascii()
        and key.isdigit()
        and (key == "0" or key[0] != "0")
        and int(key) < length
    )


def is_operator_object(value: Any) -> bool:
    return isinstance(value, dict) and all(k.startswith("$") for k in value)


def _value_matches(expected: Any, actual: Any, groups: Any, insensitive: bool = False) -> bool:
    if is_operator_object(expected):
        return all(_operator(op, actual, arg, groups) for op, arg in expected.items())
    if insensitive and isinstance(expected, str) and isinstance(actual, str):
        return expected.lower() == actual.lower()
    return _deep_equal(expected, actual)


def _deep_equal(a: Any, b: Any) -> bool:
    """Equality of two JSON values as JavaScript compares their `JSON.stringify` text."""
    kind = json_type(a)
    if kind != json_type(b):
        return False
    if kind == "array":
        return len(a) == len(b) and all(
            _deep_equal(_finite(x), _finite(y)) for x, y in zip(a, b, strict=True)
        )
    if kind == "object":
        return _key_order(a) == _key_order(b) and all(
            _deep_equal(_finite(a[k]), _finite(b[k])) for k in a
        )
    return bool(a == b)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _key_order(obj: Mapping[str, Any]) -> list[str]:
    # JavaScript lists integer-like keys first, ascending, then the rest in insertion order.
    indices = sorted((k for k in obj if _index(k, 2**32 - 1)), key=int)
    return indices + [k for k in obj if not _index(k, 2**32 - 1)]


def _strict_equal(a: Any, b: Any) -> bool:
    """JavaScript `===` between two separately parsed JSON values: containers are never equal."""
    kind = json_type(a)
    return kind == json_type(b) and kind not in ("array", "object") and bool(a == b)


def _is_in(values: Sequence[Any], actual: Any, insensitive: bool = False) -> bool:
    # An array attribute matches when any of its items is among the values (an intersection).
    if insensitive:
        folded = [_fold(v) for v in values]
        items = actual if isinstance(actual, list) else [actual]
        return any(_strict_equal(_fold(item), v) for item in items for v in folded)
    if isinstance(actual, list):
        return any(_strict_equal(item, v) for item in actual for v in values)
    return any(_strict_equal(actual, v) for v in values)


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _group_values(groups: Mapping[str, Any] | None, name: Any) -> list[Any] | None:
    if not isinstance(name, str):
        return None
    if groups is None:
        return []
    entry = groups.get(name, [])
    if isinstance(entry, dict) and entry.get("type") == "list":
        entry = entry.get("values")
    return entry if isinstance(entry, list) else None


def _operator(op: str, actual: Any, arg: Any, groups: Any) -> bool:
    test = _OPERATORS.get(op)
    # An operator GrowthBook does not define never matches.
    return test is not None and test(actual, arg, groups)


def _order(test: Callable[[int], bool]) -> Test:
    def ordered(actual: Any, arg: Any, groups: Any) -> bool:
        c = js_order(actual, arg)
        return c is not None and test(c)

    return ordered


def _version(test: Callable[[int], bool]) -> Test:
    def compared(actual: Any, arg: Any, groups: Any) -> bool:
        c = js_order(padded_version(actual), padded_version(arg))
        return c is not None and test(c)

    return compared


def _in(insensitive: bool, negate: bool) -> Test:
    def is_in(actual: Any, arg: Any, groups: Any) -> bool:
        if not isinstance(arg, list):
            return False
        found = not isinstance(actual, dict) and _is_in(arg, actual, insensitive)
        return found != negate

    return is_in


def _in_group(negate: bool) -> Test:
    def in_group(actual: Any, arg: Any, groups: Any) -> bool:
        values = _group_values(groups, arg)
        if values is None:
            return False
        found = not isinstance(actual, dict) and _is_in(values, actual)
        return found != negate

    return in_group


def _matches(flags: int) -> Test:
    def matches(actual: Any, arg: Any, groups: Any) -> bool:
        # As JavaScript's RegExp.test: the attribute is tested as text (a number, `null` for a
        # missing one); the pattern is Python's, which reads the patterns GrowthBook's UI writes.
        if not isinstance(arg, str):
            return False
        try:
            return regex(arg, flags).search(js_text(actual)) is not None
        except re.error:
            return False

    return matches


def _all(insensitive: bool) -> Test:
    def all_of(actual: Any, arg: Any, groups: Any) -> bool:
        if not isinstance(arg, list) or not isinstance(actual, list):
            return False
        return all(
            any(_value_matches(want, item, groups, insensitive) for item in actual) for want in arg
        )

    return all_of


_OPERATORS: dict[str, Test] = {
    "$eq": lambda actual, arg, groups: _strict_equal(actual, arg),
    "$ne": lambda actual, arg, groups: not _strict_equal(actual, arg),
    "$lt": _order(lambda c: c < 0),
    "$lte": _order(lambda c: c <= 0),
    "$gt": _order(lambda c: c > 0),
    "$gte": _order(lambda c: c >= 0),
    "$veq": _version(lambda c: c == 0),
    "$vne": _version(lambda c: c != 0),
    "$vlt": _version(lambda c: c < 0),
    "$vlte": _version(lambda c: c <= 0),
    "$vgt": _version(lambda c: c > 0),
    "$vgte": _version(lambda c: c >= 0),
    "$in": _in(insensitive=False, negate=False),
    "$nin": _in(insensitive=False, negate=True),
    "$ini": _in(insensitive=True, negate=False),
    "$nini": _in(insensitive=True, negate=True),
    "$inGroup": _in_group(negate=False),
    "$notInGroup": _in_group(negate=True),
    "$exists": lambda actual, arg, groups: (actual is not None) == js_truthy(arg),
    "$type": lambda actual, arg, groups: json_type(actual) == arg,
    "$regex": _matches(0),
    "$regexi": _matches(re.IGNORECASE),
    "$elemMatch": lambda actual, arg, groups: _elem_match(arg, actual, groups),
    "$size": lambda actual, arg, groups: (
        isinstance(actual, list) and _value_matches(arg, len(actual), groups)
    ),
    "$all": _all(insensitive=False),
    "$alli": _all(insensitive=True),
    "$not": lambda actual, arg, groups: not _value_matches(arg, actual, groups),
}


def _elem_match(condition: Any, actual: Any, groups: Any) -> bool:
    if not isinstance(actual, list):
        return False
    # As GrowthBook: operators test each element itself, but a condition with $and, $or or
    # $nor tests each element's fields ($not, here, negates a test of the element).
    on_value = is_operator_object(condition) and not any(k in _FIELD_CONDITIONS for k in condition)
    for item in actual:
        if item is None:
            continue
        ok = (
            _value_matches(condition, item, groups)
            if on_value
            else _condition(item, condition, groups)
        )
        if ok:
            return True
    return False


@lru_cache(maxsize=512)
def regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """A pattern compiled once (``re.error`` when it is not one)."""
    return re.compile(pattern, flags)


_VERSION_STRIP = re.compile(r"(^v|\+.*$)")
_VERSION_SPLIT = re.compile(r"[-.]")


def padded_version(value: Any) -> str:
    """A version string that compares as text the way versions compare (GrowthBook's padding)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = js_number_text(value)
    if not value or not isinstance(value, str):
        value = "0"
    return _padded(value)


@lru_cache(maxsize=512)
def _padded(text: str) -> str:
    parts = _VERSION_SPLIT.split(_VERSION_STRIP.sub("", text))
    if len(parts) == 3:
        parts.append("~")  # a release sorts after its pre-releases
    return "-".join(p.rjust(5) if p.isdigit() else p for p in parts)
