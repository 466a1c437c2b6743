"""JavaScript's comparison of two JSON values, for the targeting operators that order.

GrowthBook's reference SDK evaluates ``$lt``, ``$lte``, ``$gt`` and ``$gte`` with JavaScript's
own ``<`` and ``<=`` (ECMAScript's IsLessThan), and its specification's test cases (0.8.0) pin
what follows from that: a numeric string orders against a number as that number (``"8" > 5``),
and a missing attribute (``null``) as ``0`` (so ``{"age": {"$lt": 18}}`` matches a unit with no
age). Written out here, for JSON values only, so that the answers match the SDKs exactly:

1. Each side becomes a primitive: ``null``, booleans, numbers and strings stay; an array becomes
   its elements' text joined by ``,`` (``null`` as nothing); an object becomes
   ``"[object Object]"``.
2. Two strings compare by UTF-16 code units.
3. Otherwise both become numbers (``null`` 0, ``true`` 1, ``false`` 0, a string by JavaScript's
   ``Number()``: trimmed, empty is 0, decimal, ``Infinity`` or ``0x``/``0o``/``0b``, else NaN).
   A NaN on either side makes every ordering false.
"""

import math
import re
from typing import Any

__all__ = ["js_number_text", "js_order", "js_text", "js_truthy"]

# JavaScript's StrWhiteSpaceChar: WhiteSpace (Zs included) and LineTerminator.
_SPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_RADIX = {"x": (16, re.compile(r"[0-9a-fA-F]+")), "o": (8, re.compile(r"[0-7]+")),
          "b": (2, re.compile(r"[01]+"))}  # fmt: skip


def _string_to_number(text: str) -> float:
    text = text.strip(_SPACE)
    if not text:
        return 0.0
    if len(text) > 2 and text[0] == "0" and text[1] in "xXoObB":
        base, digits = _RADIX[text[1].lower()]
        return float(int(text[2:], base)) if digits.fullmatch(text[2:]) else math.nan
    if not _DECIMAL.fullmatch(text):
        return math.nan
    return float(text.replace("Infinity", "inf"))


def _to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int):
        try:
            return float(value)
        except OverflowError:  # beyond a double: JavaScript reads such JSON as Infinity
            return math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return value
    return _string_to_number(value)


def js_number_text(value: float) -> str:
    """A number as JavaScript's ``String(number)`` writes it (shortest round trip)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = _to_number(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = digits.partition(".")
    fraction = "" if fraction == "0" else fraction
    # The digits as one integer string, and n: where the decimal point goes (ECMAScript's k, n).
    n = len(whole) + (int(exponent) if exponent else 0)
    significant = (whole + fraction).lstrip("0")
    n -= len(whole + fraction) - len((whole + fraction).lstrip("0"))
    significant = significant.rstrip("0") or "0"
    k = len(significant)
    if k <= n <= 21:
        return sign + significant + "0" * (n - k)
    if 0 < n <= 21:
        return sign + significant[:n] + "." + significant[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + significant
    mantissa = significant[0] + ("." + significant[1:] if k > 1 else "")
    return f"{sign}{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


def _to_text(value: Any) -> str:
    if value is None:
        return ""  # inside an array, as Array.prototype.join writes it
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number_text(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ",".join(_to_text(item) for item in value)
    return "[object Object]"


def js_text(value: Any) -> str:
    """A JSON value as JavaScript's ``String(value)`` writes it (what a ``RegExp`` tests)."""
    if value is None:
        return "null"
    return _to_text(value)


def js_truthy(value: Any) -> bool:
    """JavaScript's truthiness: ``null``, ``false``, 0, NaN and ``""`` are false; every array
    and object, empty or not, is true."""
    if isinstance(value, list | tuple | dict):
        return True
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def _to_primitive(value: Any) -> Any:
    if isinstance(value, list | tuple | dict):
        return _to_text(value)
    return value


def js_order(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 as JavaScript orders ``a`` and ``b``; None when it cannot (a NaN)."""
    a, b = _to_primitive(a), _to_primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        if not (a.isascii() and b.isascii()):
            a, b = a.encode("utf-16-be", "surrogatepass"), b.encode("utf-16-be", "surrogatepass")
        return int(a > b) - int(a < b)
    m, n = _to_number(a), _to_number(b)
    if math.isnan(m) or math.isnan(n):
        return None
    return int(m > n) - int(m < n)
