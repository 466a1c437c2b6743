"""What compiled rules call at run time: one explicit Decimal context and a few helpers."""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# Formulas compute under this context whatever the ambient one is: 34 significant digits, half-up,
# and bounded exponents, so that a runaway formula is an error, never a hang or an infinity.
RULES_CONTEXT = decimal.Context(
    prec=34,
    rounding=ROUND_HALF_UP,
    Emax=9999,
    Emin=-9999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
MAX_EXPONENT = 100
MAX_DAYS = 36_500
SECONDS_PER_DAY = Decimal(86400)
SECONDS_PER_HOUR = Decimal(3600)


class EvaluationError(Exception):
    """A rule could not be evaluated for these facts (it is skipped, with this as the reason)."""


class MissingFact(EvaluationError):
    def __init__(self, name: str) -> None:
        super().__init__(f"missing fact {name}")
        self.name = name


_FAILURES = {
    "DivisionByZero": "division by zero",
    "DivisionUndefined": "division by zero",
    "Overflow": "the result is too large",
    "InvalidOperation": "the operation has no result (e.g. a fractional power of a negative number)",
}


def failed(exc: Exception) -> EvaluationError:
    """What went wrong, said for people (a rule's skip reason, a save-time error)."""
    if isinstance(exc, EvaluationError):
        return exc
    kinds = [t.__name__ for t in type(exc).__mro__] + [str(exc)]
    for key, text in _FAILURES.items():
        if any(key in kind for kind in kinds):
            return EvaluationError(text)
    if isinstance(exc, TypeError):
        return EvaluationError(f"cannot compute: {exc}")
    return EvaluationError(f"cannot compute: {type(exc).__name__}")


def number(value: Any) -> Decimal:
    """A fact's value as an exact Decimal (floats go through their shortest repr, as JSON wrote them)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise EvaluationError("expected a number, got a boolean")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except decimal.InvalidOperation:
            pass
    raise EvaluationError(f"expected a number, got {value!r}")


def power(base: Any, exponent: Any) -> Decimal:
    exponent = number(exponent)
    if abs(exponent) > MAX_EXPONENT:
        raise EvaluationError(f"exponent {exponent} is out of range (|exponent| ≤ {MAX_EXPONENT})")
    return RULES_CONTEXT.power(number(base), exponent)


def add(a: Any, b: Any) -> Any:
    if isinstance(a, date) and not isinstance(b, date):
        return shift(a, b)
    if isinstance(b, date) and not isinstance(a, date):
        return shift(b, a)
    return RULES_CONTEXT.add(number(a), number(b))


def subtract(a: Any, b: Any) -> Any:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return RULES_CONTEXT.divide(Decimal(int((a - b).total_seconds())), SECONDS_PER_DAY)
    if isinstance(a, date) and isinstance(b, date):
        return Decimal((a - b).days)
    if isinstance(a, date):
        return shift(a, RULES_CONTEXT.minus(number(b)))
    return RULES_CONTEXT.subtract(number(a), number(b))


def shift(day: date, days: Any) -> date:
    amount = number(days)
    if amount != amount.to_integral_value() or abs(amount) > 100_000:
        raise EvaluationError(f"cannot move a date by {amount} days")
    return day + timedelta(days=int(amount))


def negate(a: Any) -> Decimal:
    return RULES_CONTEXT.minus(number(a))


def arith(op: str, a: Any, b: Any) -> Decimal:
    x, y = number(a), number(b)
    if op == "*":
        return RULES_CONTEXT.multiply(x, y)
    if op == "/":
        return RULES_CONTEXT.divide(x, y)
    return RULES_CONTEXT.remainder(x, y)


def rounded(value: Any, digits: Any = 0) -> Decimal:
    places = number(digits)
    if places != places.to_integral_value() or not -20 <= places <= 20:
        raise EvaluationError("round() takes 0 to 20 digits")
    return number(value).quantize(Decimal(1).scaleb(-int(places)), context=RULES_CONTEXT)


def clamp(value: Any, low: Any, high: Any) -> Decimal:
    x, lo, hi = number(value), number(low), number(high)
    if lo > hi:
        raise EvaluationError(f"clamp() low {lo} is above high {hi}")
    return min(max(x, lo), hi)


def smallest(*values: Any) -> Decimal:
    return min(number(v) for v in values)


def largest(*values: Any) -> Decimal:
    return max(number(v) for v in values)


def absolute(value: Any) -> Decimal:
    return abs(number(value))


def to_date(text: Any) -> date:
    if isinstance(text, date) and not isinstance(text, datetime):
        return text
    try:
        return date.fromisoformat(str(text))
    except ValueError as exc:
        raise EvaluationError(f"not an ISO date: {text!r}") from exc


def days_until(when: Any, now: datetime) -> Decimal:
    if isinstance(when, datetime):
        return RULES_CONTEXT.divide(Decimal(int((when - now).total_seconds())), SECONDS_PER_DAY)
    if isinstance(when, date):
        return Decimal((when - now.date()).days)
    raise EvaluationError(f"days_until() takes a date, got {when!r}")


def hours_until(when: Any, now: datetime) -> Decimal:
    if not isinstance(when, datetime):
        raise EvaluationError(f"hours_until() takes a date-time, got {when!r}")
    return RULES_CONTEXT.divide(Decimal(int((when - now).total_seconds())), SECONDS_PER_HOUR)


def contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        if not isinstance(item, str):
            raise EvaluationError("only a string can be in a string")
        return item in container
    if isinstance(container, list | tuple | frozenset | set):
        return item in container
    raise EvaluationError(f"'in' needs a list or a string, got {container!r}")


def any_of(*operands: Callable[[], Any]) -> Any:
    """``or`` in three-valued logic (a rule's second run, once a fact was missing): the first
    true operand, whatever facts the others miss; else the missing fact, if one was; else the
    last operand, as Python's ``or`` gives it."""
    missing: KeyError | None = None
    value: Any = False
    for operand in operands:
        try:
            value = operand()
        except KeyError as exc:  # a missing fact (see _codegen)
            if missing is None:
                missing = exc
            continue
        if value:
            return value
    if missing is not None:
        raise missing
    return value


def all_of(*operands: Callable[[], Any]) -> Any:
    """``and`` in three-valued logic: the first false operand, whatever facts the others miss;
    else the missing fact, if one was; else the last operand, as Python's ``and`` gives it."""
    missing: KeyError | None = None
    value: Any = True
    for operand in operands:
        try:
            value = operand()
        except KeyError as exc:
            if missing is None:
                missing = exc
            continue
        if not value:
            return value
    if missing is not None:
        raise missing
    return value


def index(facts: Mapping[str, Any], prefix: str, key: Any, default: Any) -> Any:
    """``map[key]``: the fact ``<map>.<key>``; else ``default``, or (none) a missing fact."""
    if not isinstance(key, str):
        raise EvaluationError(f"{prefix[:-1]}[…] takes a string key, got {key!r}")
    found = facts.get(prefix + key)
    if found is not None:
        return found
    if default is not None:
        return default
    raise KeyError(f"{prefix[:-1]}[{key!r}]")


def bought_within(facts: Mapping[str, Any], category: Any, days: Any, now: datetime) -> bool:
    """Whether the profile's latest purchase in ``category`` is at most ``days`` before ``now``
    (a missing fact without the profile's features)."""
    if "profile.purchases_90d" not in facts:
        raise KeyError("profile.purchases_90d")
    if not isinstance(category, str):
        raise EvaluationError(f"bought_within() takes a category name, got {category!r}")
    limit = number(days)
    if not 0 <= limit <= MAX_DAYS:
        raise EvaluationError(f"bought_within() takes 0 to {MAX_DAYS} days, got {limit}")
    at = facts.get("profile.last_purchase_in." + category)
    if not isinstance(at, datetime):
        return False
    seconds = Decimal(int((now - at).total_seconds()))
    return seconds <= RULES_CONTEXT.multiply(limit, SECONDS_PER_DAY)
