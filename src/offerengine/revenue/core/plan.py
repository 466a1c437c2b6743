"""One cabin's controls from its forecast: EMSR-b on the seats still unsold.

The families' forecast demand still to come (mean, standard deviation) and their fares go into
EMSR-b (:mod:`.nesting`) with the seats left as the capacity, as the booking simulator sets its
limits at each booking period: the limits say how many more seats each family may sell, nested
(b_1 = seats left ≥ b_2 ≥ …), the protection how many of the seats left are kept for the
families above it, and the bid price what the next seat is worth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from offerengine.revenue.core.nesting import FareClass, emsr_b


@dataclass(frozen=True, slots=True)
class FamilyPlan:
    code: str
    fare: Decimal
    booked: int
    mean: float  # demand still to come
    sd: float
    protection: float  # seats left kept for the families above
    limit: int  # more seats it may sell


@dataclass(frozen=True, slots=True)
class CabinPlan:
    seats_left: int
    families: tuple[FamilyPlan, ...]  # highest first
    bid_price: Decimal | None  # None with no seat left, or fares with no currency

    @property
    def limits(self) -> tuple[int, ...]:
        return tuple(f.limit for f in self.families)


def plan(
    codes: Sequence[str],
    fares: Sequence[Decimal],
    booked: Sequence[float],
    to_come: Sequence[float],
    sd: Sequence[float],
    seats_left: int,
    quantum: Decimal | None,
) -> CabinPlan:
    """Limits, protection and bid price for families ``codes`` (highest fare first) with
    ``seats_left`` seats; ``quantum`` rounds the bid price (None: the fares are no money)."""
    left = max(int(seats_left), 0)
    nesting = emsr_b(
        [
            FareClass(code, fare, max(float(mean), 0.0), max(float(spread), 0.0))
            for code, fare, mean, spread in zip(codes, fares, to_come, sd, strict=True)
        ],
        left,
    )
    families = tuple(
        FamilyPlan(
            code=code,
            fare=fare,
            booked=round(float(b)),
            mean=max(float(mean), 0.0),
            sd=max(float(spread), 0.0),
            protection=nesting.protected_for(code),
            limit=nesting.limit(code),
        )
        for code, fare, b, mean, spread in zip(codes, fares, booked, to_come, sd, strict=True)
    )
    price = nesting.bid_price(left, quantum) if quantum is not None and left > 0 else None
    return CabinPlan(left, families, price)
