"""Nested booking limits by EMSR-b, and the bid price of a seat.

A cabin's fare classes (or fare families) share its seats, nested: a higher class may always take
a seat a lower one could, never the reverse. EMSR-b (Belobaba's expected marginal seat revenue,
version b) sets how many seats to *protect* for the classes above each one, from the forecast of
the demand still to come per class (a normal mean and standard deviation) and the classes' fares:

1. Order the classes by fare, highest first: 1 … n.
2. For j = 1 … n−1, aggregate classes 1 … j into one virtual class: demand mean S_j = Σ μ_i,
   standard deviation σ_j = √(Σ σ_i²), fare p̄_j = Σ p_i μ_i / S_j (demand-weighted).
3. Protect y_j seats for it so that the chance of selling the y_j-th protected seat to it equals
   the fare ratio of the next class: P(D_j > y_j) = p_{j+1} / p̄_j, i.e.
   y_j = S_j + σ_j Φ⁻¹(1 − p_{j+1} / p̄_j).
4. Class j+1 may sell at most b_{j+1} = C − y_j seats (its booking limit); class 1 may sell all C.

Protection levels are clamped to [0, C] and made non-decreasing (classes nest), and rounded to
whole seats half-up for the limits, so b_1 ≥ b_2 ≥ … ≥ b_n ≥ 0 always holds.

The bid price is the displacement cost of a seat: what the last remaining seat is expected to earn
from the demand to come. With x seats left, the limits keep seat x for the virtual class j whose
protection band holds it (y_{j−1} < x ≤ y_j, in whole seats; j = n past the last level), and
its expected marginal seat revenue there is p̄_j · P(D_j ≥ x); the bid price is that, held between
the fare of class j+1 and that of class j: so the open classes sell at or above the bid price, the
closed ones at or below it, and the price only falls as more seats are left.

Everything here is arithmetic on plain values: no storage, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist

_STANDARD = NormalDist()
CENT = Decimal("0.01")


class NestingError(ValueError):
    """Classes or a capacity that no booking limits can be computed for."""


@dataclass(frozen=True, slots=True)
class FareClass:
    """A class's fare and the forecast of its demand still to come."""

    code: str
    fare: Decimal
    mean: float
    sd: float


@dataclass(frozen=True, slots=True)
class VirtualClass:
    """Classes 1 … j as one: their demand and demand-weighted fare."""

    mean: float
    sd: float
    fare: float


@dataclass(frozen=True, slots=True)
class Nesting:
    """EMSR-b's answer for one cabin: classes highest fare first, the seats protected for the
    classes above each one, and each class's booking limit."""

    capacity: int
    classes: tuple[FareClass, ...]
    protection: tuple[float, ...]  # y_1 … y_{n−1}: seats kept for classes 1 … j
    limits: tuple[int, ...]  # b_1 … b_n: the most seats class j may sell (nested)
    virtual: tuple[VirtualClass, ...]  # classes 1 … j aggregated, j = 1 … n

    def limit(self, code: str) -> int:
        """The booking limit of the class ``code``."""
        for fare_class, limit in zip(self.classes, self.limits, strict=True):
            if fare_class.code == code:
                return limit
        raise KeyError(code)

    def protected_for(self, code: str) -> float:
        """The seats protected for the classes above ``code`` (0 for the highest)."""
        for j, fare_class in enumerate(self.classes):
            if fare_class.code == code:
                return 0.0 if j == 0 else self.protection[j - 1]
        raise KeyError(code)

    def open_classes(self, sold: int) -> tuple[str, ...]:
        """The classes still open with ``sold`` seats sold in the cabin (all classes together):
        class j sells while the seats sold stay under its booking limit."""
        return tuple(c.code for c, b in zip(self.classes, self.limits, strict=True) if sold < b)

    def bid_price(self, remaining: int, quantum: Decimal = CENT) -> Decimal:
        """The displacement cost of one seat with ``remaining`` seats left, rounded to
        ``quantum``."""
        if remaining <= 0:
            raise NestingError("no seat left to price")
        band = next(
            (j for j, y in enumerate(self.protection) if remaining <= _seats(y)),
            len(self.classes) - 1,
        )
        ceiling = self.classes[band].fare
        floor = self.classes[band + 1].fare if band + 1 < len(self.classes) else Decimal(0)
        earned = self.virtual[band].fare * _exceeds(self.virtual[band], remaining)
        value = min(ceiling, max(floor, Decimal(repr(earned))))
        return value.quantize(quantum, rounding=ROUND_HALF_UP)


def emsr_b(classes: Sequence[FareClass], capacity: int) -> Nesting:
    """Protection levels and nested booking limits for ``classes`` sharing ``capacity`` seats."""
    if capacity < 0:
        raise NestingError("capacity must be 0 or more")
    if not classes:
        raise NestingError("at least one fare class is needed")
    _check(classes)
    ordered = tuple(sorted(classes, key=lambda c: (-c.fare, c.code)))
    virtual = _aggregate(ordered)
    protection: list[float] = []
    for j in range(len(ordered) - 1):
        level = _protect(virtual[j], float(ordered[j + 1].fare))
        if protection:
            level = max(level, protection[-1])
        protection.append(min(max(level, 0.0), float(capacity)))
    limits = [capacity] + [capacity - _seats(y) for y in protection]
    return Nesting(capacity, ordered, tuple(protection), tuple(limits), virtual)


def _check(classes: Sequence[FareClass]) -> None:
    codes = [c.code for c in classes]
    if len(set(codes)) != len(codes):
        raise NestingError("fare class codes must be unique")
    for c in classes:
        if not c.fare.is_finite() or c.fare < 0:
            raise NestingError(f"class {c.code}: the fare must be 0 or more")
        if not (math.isfinite(c.mean) and c.mean >= 0):
            raise NestingError(f"class {c.code}: the demand mean must be 0 or more")
        if not (math.isfinite(c.sd) and c.sd >= 0):
            raise NestingError(f"class {c.code}: the demand standard deviation must be 0 or more")


def _aggregate(ordered: tuple[FareClass, ...]) -> tuple[VirtualClass, ...]:
    out: list[VirtualClass] = []
    mean = variance = revenue = 0.0
    for c in ordered:
        mean += c.mean
        variance += c.sd * c.sd
        revenue += float(c.fare) * c.mean
        # With no demand expected, the classes' plain fare stands for the weighted one.
        fare = revenue / mean if mean > 0 else float(ordered[0].fare)
        out.append(VirtualClass(mean, math.sqrt(variance), fare))
    return tuple(out)


def _protect(above: VirtualClass, next_fare: float) -> float:
    """Seats to protect for ``above`` against a class selling at ``next_fare``."""
    if above.fare <= 0 or next_fare >= above.fare:
        return 0.0  # the class below earns as much: nothing is worth protecting from it
    ratio = next_fare / above.fare
    if ratio <= 0:
        return math.inf  # a free class displaces any paying demand
    if above.sd == 0:
        return above.mean
    return above.mean + above.sd * _STANDARD.inv_cdf(1 - ratio)


def _exceeds(v: VirtualClass, seats: int) -> float:
    """P(D ≥ seats) for the virtual class's normal demand (a point mass when sd is 0)."""
    if v.sd == 0:
        return 1.0 if v.mean >= seats else 0.0
    return 1 - _STANDARD.cdf((seats - v.mean) / v.sd)


def _seats(level: float) -> int:
    """A protection level in whole seats, half-up."""
    return int(Decimal(repr(level)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
