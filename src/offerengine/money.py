"""Exact money: ``Decimal`` under one context, integer minor units, ISO 4217 currencies.

Amounts are stored as integer minor units with a currency code. Conversions between a decimal string
and minor units refuse more decimals than the currency has (``30.001 USD`` is an error, never silently
rounded); computed amounts are rounded once, half-up, with :func:`quantize` at the point the caller
documents. NUC (IATA's neutral unit of construction) is accepted as a *filing* unit for prices, with two
decimals, and is never a selling currency.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

import iso4217

# One explicit context for all money arithmetic: enough precision for any realistic amount, and
# traps so that an invalid operation raises instead of producing NaN.
MONEY_CONTEXT = decimal.Context(
    prec=34,
    rounding=ROUND_HALF_UP,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

NUC = "NUC"
# Largest amount, in minor units, that fits a signed 64-bit column with room for sums.
MAX_MINOR = 10**15


@dataclass(frozen=True, slots=True)
class CurrencyInfo:
    code: str
    name: str
    minor_units: int
    filing_only: bool = False


class UnknownCurrency(ValueError):
    """The code is not an ISO 4217 currency with minor units (or NUC where allowed)."""


@cache
def _table() -> dict[str, CurrencyInfo]:
    table: dict[str, CurrencyInfo] = {}
    for cur in iso4217.Currency:
        # Funds, precious metals and testing codes have no minor units: not money we price in.
        if cur.exponent is None:
            continue
        table[cur.code] = CurrencyInfo(cur.code, cur.currency_name, int(cur.exponent))
    table[NUC] = CurrencyInfo(NUC, "IATA Neutral Unit of Construction", 2, filing_only=True)
    return table


def currency(code: str, *, allow_filing: bool = False) -> CurrencyInfo:
    """Return the currency for ``code``; raise :class:`UnknownCurrency` if it is not one."""
    info = _table().get(code)
    if info is None or (info.filing_only and not allow_filing):
        what = "an ISO 4217 currency" + (" or NUC" if allow_filing else "")
        raise UnknownCurrency(f"{code!r} is not {what}")
    return info


def currency_codes(*, allow_filing: bool = False) -> list[str]:
    """All accepted codes, sorted."""
    return sorted(c.code for c in _table().values() if allow_filing or not c.filing_only)


@cache
def exact(code: str) -> Callable[[Decimal], bool]:
    """For one currency: whether an amount is one :func:`to_minor` takes (no more decimals than
    the currency has, and not too large), without converting it: a quote checks every price."""
    smallest = unit(code)
    below = Decimal(MAX_MINOR) * smallest

    def is_exact(amount: Decimal) -> bool:
        # Bounded first: quantizing a huge amount would exceed the context's precision.
        return amount.is_finite() and abs(amount) < below and amount == _quantize(amount, smallest)

    return is_exact


def within(amount: Decimal, code: str) -> bool:
    """Whether a computed amount, once rounded, is one :func:`to_minor` takes: finite and not too
    large (checked before rounding, which would exceed the context's precision past it)."""
    return amount.is_finite() and abs(amount) < Decimal(MAX_MINOR) * unit(code)


def to_minor(amount: Decimal, code: str) -> int:
    """Convert an exact amount to minor units; refuse amounts with more decimals than the currency."""
    info = currency(code, allow_filing=True)
    if not amount.is_finite():
        raise ValueError("amount must be a finite number")
    scaled = amount.scaleb(info.minor_units, context=MONEY_CONTEXT)
    if scaled != scaled.to_integral_value(context=MONEY_CONTEXT):
        raise ValueError(f"{code} has {info.minor_units} decimal places; {amount} has more")
    minor = int(scaled)
    if abs(minor) >= MAX_MINOR:
        raise ValueError("amount is too large")
    return minor


def from_minor(minor: int, code: str) -> Decimal:
    """Convert minor units back to an exact amount with the currency's number of decimals."""
    info = currency(code, allow_filing=True)
    return Decimal(minor).scaleb(-info.minor_units, context=MONEY_CONTEXT)


@cache
def unit(code: str) -> Decimal:
    """The currency's smallest unit (0.01 for USD, 1 for JPY), computed once per code."""
    return Decimal(1).scaleb(-currency(code, allow_filing=True).minor_units)


# The context's own quantize: the same operation as Decimal.quantize(unit, context=...), without
# the keyword argument's parsing (~100 ns against ~260 a call; a quote rounds a hundred amounts).
_quantize = MONEY_CONTEXT.quantize


def quantize(amount: Decimal, code: str) -> Decimal:
    """Round a computed amount once, half-up, to the currency's minor units."""
    return _quantize(amount, unit(code))


@cache
def quantizer(code: str) -> Callable[[Decimal], Decimal]:
    """:func:`quantize` for one currency, as a function (for loops over many amounts)."""
    smallest = unit(code)

    def round_once(amount: Decimal) -> Decimal:
        return _quantize(amount, smallest)

    return round_once


def format_amount(minor: int, code: str) -> str:
    """The decimal string the API shows: ``3000, USD → "30.00"``."""
    return str(from_minor(minor, code))


def plain(value: Decimal) -> str:
    """A computed number for people: exact, without trailing zeros or exponent (2.280 → "2.28")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def show(amount: Decimal, code: str) -> str:
    """A computed, unrounded amount for people: exact, with at least the currency's decimals
    (570.00000 → "570.00", 114.98850 → "114.9885")."""
    digits = currency(code, allow_filing=True).minor_units
    text = plain(amount)
    whole, _, fraction = text.partition(".")
    if len(fraction) < digits:
        fraction = fraction.ljust(digits, "0")
    return f"{whole}.{fraction}" if fraction else whole
