"""Deterministic assignment, compatible with GrowthBook's SDKs.

A tenant that moves here from GrowthBook keeps every user in the same bucket: the hash, the bucket
ranges, the namespace check and the targeting conditions follow GrowthBook's published algorithms
(its SDK specification, "Hashing", "Bucket ranges", "Namespaces" and "Targeting conditions").

- `hash_unit` is FNV-1a 32-bit over UTF-16 code units (what JavaScript's `charCodeAt` gives).
  Version 1: `fnv1a32(value + seed) % 1000 / 1000`; version 2: `fnv1a32(str(fnv1a32(seed + value)))
  % 10000 / 10000`, which spreads better; any other version is `None`.
- `bucket_ranges` lays the variations side by side on [0, 1) and keeps the first `coverage` share of
  each; weights that do not fit (wrong count, negative, not summing to 1 ± 0.01) become equal weights
  and coverage is clamped to [0, 1], as GrowthBook does.
- `eval_condition` is GrowthBook's MongoDB-like condition language. Values compare the way the
  JavaScript SDK compares JSON: `1` never equals `true`, only two numbers or two strings order.

Everything here is pure and allocation-light: flags and experiments call it on every evaluation.
"""

import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

__all__ = [
    "CONDITION_OPERATORS",
    "VALUE_OPERATORS",
    "bucket_ranges",
    "choose_variation",
    "equal_weights",
    "eval_condition",
    "fnv1a32",
    "hash_unit",
    "in_namespace",
    "json_type",
    "padded_version",
]

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MASK = 0xFFFFFFFF

# Operators that combine conditions, and operators that test one attribute's value.
CONDITION_OPERATORS = frozenset({"$and", "$or", "$nor", "$not"})
_FIELD_CONDITIONS = frozenset({"$and", "$or", "$nor"})
VALUE_OPERATORS = frozenset(
    {
        "$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin", "$exists", "$type", "$regex",
        "$elemMatch", "$size", "$all", "$not", "$vgt", "$vgte", "$vlt", "$vlte", "$veq", "$vne",
        "$inGroup", "$notInGroup",
    }
)  # fmt: skip


def fnv1a32(text: str, start: int = _FNV_OFFSET) -> int:
    """Hash a string with 32-bit FNV-1a over its UTF-16 code units; ``start`` is the state after a
    prefix (FNV-1a reads its input once, in order: ``fnv1a32(b, fnv1a32(a)) == fnv1a32(a + b)``)."""
    h = start
    if text.isascii():
        for unit in text.encode("ascii"):
            h = ((h ^ unit) * _FNV_PRIME) & _MASK
        return h
    data = text.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(data), 2):
        h = ((h ^ (data[i] | data[i + 1] << 8)) * _FNV_PRIME) & _MASK
    return h


@lru_cache(maxsize=4096)
def _after(seed: str) -> int:
    """FNV-1a's state after a seed: version 2 hashes ``seed + value``, and a flag's or an
    experiment's seed is the same for every unit, so only the unit's characters are read per call
    (~4 -> ~2 µs a hash for a 27-character seed)."""
    return fnv1a32(seed)


def hash_unit(seed: str, value: str, version: int) -> float | None:
    """Map a unit to [0, 1) the way GrowthBook does; `None` for an unknown hash version."""
    if version == 2:
        return (fnv1a32(str(fnv1a32(value, _after(seed)))) % 10000) / 10000
    if version == 1:
        return (fnv1a32(value + seed) % 1000) / 1000
    return None


def equal_weights(n: int) -> list[float]:
    """Give each of `n` variations the same share."""
    if n < 1:
        return []
    return [1 / n] * n


def _valid_weights(weights: Sequence[float] | None, n: int) -> bool:
    if weights is None or len(weights) != n:
        return False
    total = 0.0
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            return False
        total += w
    return 0.99 <= total <= 1.01


def bucket_ranges(
    n: int, coverage: float, weights: Sequence[float] | None
) -> list[tuple[float, float]]:
    """Lay `n` variations on [0, 1): each gets its weight, of which `coverage` is in the test."""
    coverage = min(max(coverage, 0.0), 1.0)
    used = list(weights) if weights is not None and _valid_weights(weights, n) else equal_weights(n)
    ranges = []
    cumulative = 0.0
    for w in used:
        start = cumulative
        cumulative += w
        ranges.append((start, start + coverage * w))
    return ranges


def choose_variation(n: float, ranges: Sequence[tuple[float, float]]) -> int:
    """The index of the range holding `n`, or -1 when it falls in none (outside coverage)."""
    for i, (low, high) in enumerate(ranges):
        if low <= n < high:
            return i
    return -1


def in_namespace(unit_id: str, namespace: tuple[str, float, float]) -> bool:
    """Whether the unit falls in the namespace's slice `[start, end)`."""
    name, start, end = namespace
    n = hash_unit("__" + name, unit_id, 1)
    return n is not None and start <= n < end


# --- Targeting conditions ----------------------------------------------------------------------


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


def _is_operator_object(value: Any) -> bool:
    return isinstance(value, dict) and all(k.startswith("$") for k in value)


def _value_matches(expected: Any, actual: Any, groups: Any) -> bool:
    if _is_operator_object(expected):
        return all(_operator(op, actual, arg, groups) for op, arg in expected.items())
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


def _orderable(a: Any, b: Any) -> bool:
    return (json_type(a) == json_type(b) == "number") or (isinstance(a, str) and isinstance(b, str))


def _compare(a: Any, b: Any) -> int:
    if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        raise ValueError("NaN is unordered")
    if isinstance(a, str) and not (a.isascii() and b.isascii()):
        # JavaScript orders strings by UTF-16 code units.
        a, b = a.encode("utf-16-be", "surrogatepass"), b.encode("utf-16-be", "surrogatepass")
    return int(a > b) - int(a < b)


def _is_in(values: Sequence[Any], actual: Any) -> bool:
    if isinstance(actual, list):
        return any(_strict_equal(item, v) for item in actual for v in values)
    return any(_strict_equal(actual, v) for v in values)


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
    if op == "$eq":
        return _strict_equal(actual, arg)
    if op == "$ne":
        return not _strict_equal(actual, arg)
    if op in ("$lt", "$lte", "$gt", "$gte"):
        if not _orderable(actual, arg):
            return False
        try:
            c = _compare(actual, arg)
        except ValueError:
            return False
        return {"$lt": c < 0, "$lte": c <= 0, "$gt": c > 0, "$gte": c >= 0}[op]
    if op in ("$veq", "$vne", "$vlt", "$vlte", "$vgt", "$vgte"):
        if not _orderable(actual, arg):
            return op == "$vne"
        a, b = padded_version(actual), padded_version(arg)
        return {
            "$veq": a == b,
            "$vne": a != b,
            "$vlt": a < b,
            "$vlte": a <= b,
            "$vgt": a > b,
            "$vgte": a >= b,
        }[op]
    if op in ("$in", "$nin"):
        if not isinstance(arg, list):
            return False
        found = not isinstance(actual, dict) and _is_in(arg, actual)
        return found if op == "$in" else not found
    if op in ("$inGroup", "$notInGroup"):
        values = _group_values(groups, arg)
        if values is None:
            return False
        found = not isinstance(actual, dict) and _is_in(values, actual)
        return found if op == "$inGroup" else not found
    if op == "$exists":
        return (actual is not None) if arg else (actual is None)
    if op == "$type":
        return bool(json_type(actual) == arg)
    if op == "$regex":
        if not isinstance(actual, str) or not isinstance(arg, str):
            return False
        try:
            return _regex(arg).search(actual) is not None
        except re.error:
            return False
    if op == "$elemMatch":
        return _elem_match(arg, actual, groups)
    if op == "$size":
        return isinstance(actual, list) and _value_matches(arg, len(actual), groups)
    if op == "$all":
        if not isinstance(arg, list) or not isinstance(actual, list):
            return False
        return all(any(_value_matches(want, item, groups) for item in actual) for want in arg)
    if op == "$not":
        return not _value_matches(arg, actual, groups)
    # An operator GrowthBook does not define never matches.
    return False


def _elem_match(condition: Any, actual: Any, groups: Any) -> bool:
    if not isinstance(actual, list):
        return False
    # As GrowthBook: operators test each element itself, but a condition with $and, $or or
    # $nor tests each element's fields ($not, here, negates a test of the element).
    on_value = _is_operator_object(condition) and not any(k in _FIELD_CONDITIONS for k in condition)
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
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_VERSION_STRIP = re.compile(r"(^v|\+.*$)")
_VERSION_SPLIT = re.compile(r"[-.]")


def padded_version(value: Any) -> str:
    """A version string that compares as text the way versions compare (GrowthBook's padding)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = _js_number(value)
    if not value or not isinstance(value, str):
        value = "0"
    return _padded(value)


@lru_cache(maxsize=512)
def _padded(text: str) -> str:
    parts = _VERSION_SPLIT.split(_VERSION_STRIP.sub("", text))
    if len(parts) == 3:
        parts.append("~")  # a release sorts after its pre-releases
    return "-".join(p.rjust(5) if p.isdigit() else p for p in parts)


def _js_number(value: float) -> str:
    # JavaScript prints integral numbers without a fraction; versions are rarely anything else.
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


# --- Checking a condition when it is saved -------------------------------------------------------

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
    if not _is_operator_object(value) or not value:
        return []  # an implicit equality
    found: list[tuple[Path, str]] = []
    for op, arg in value.items():
        where = (*path, op)
        if op not in VALUE_OPERATORS:
            found.append((where, f"unknown operator {op!r}"))
        elif op in ("$in", "$nin", "$all") and not isinstance(arg, list):
            found.append((where, f"{op} takes a list"))
        elif op == "$exists" and not isinstance(arg, bool):
            found.append((where, "$exists takes true or false"))
        elif op == "$type" and arg not in _JSON_TYPES:
            found.append((where, f"$type is one of {', '.join(sorted(_JSON_TYPES))}"))
        elif op in ("$inGroup", "$notInGroup") and not isinstance(arg, str):
            found.append((where, f"{op} takes a saved group's name"))
        elif op == "$regex":
            if not isinstance(arg, str):
                found.append((where, "$regex takes a pattern string"))
            else:
                try:
                    _regex(arg)
                except re.error as exc:
                    found.append((where, f"not a valid regular expression: {exc}"))
        elif op == "$elemMatch":
            found += (
                condition_errors(arg, where)
                if not _is_operator_object(arg)
                else (_value_errors(arg, where))
            )
        elif op in ("$not", "$size"):
            found += _value_errors(arg, where)
    return found
