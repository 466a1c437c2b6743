"""A cabin's booking controls kept current as bookings arrive, without forecasting again.

A forecast (:mod:`.plan`) sets, on the cabin's seats left at that time, each family's booking
limit ``b_j`` (how many more seats it may sell, nested). What it protects for the families above
family j is the integer ``P_j = seats_left − b_j``: seats kept for dearer demand, whatever sells
meanwhile. So at any later moment, with ``sellable`` seats the inventory still sells (capacity
with overbooking, less sold and held), family j may sell

    limit_j = max(0, sellable − P_j)

A booking of any family lowers every family's limit by its seats, until a family's limit reaches
0 (it is closed); the first family (P = 0) sells to the last seat. Cancellations give seats back
to every family alike. Nothing here reads storage: the counters come with the cabin's stock.

The facts pricing rules see (the family shopping sells: the one at multiplier 1, else the one
nearest it, the dearer of two as near, as the forecast counts orders that name no family):

- ``booking_limit``: that family's current limit; ``protection_level``: its ``P``;
- ``expected_demand``: the demand still to come of all families. Seats sold or held since the
  forecast are demand that came, so they are taken off the forecast's total (never below 0):
  otherwise every booking would count twice, as a seat taken and as demand still to come;
- ``forecast_load_factor``: (sold + held now + ``expected_demand``) / capacity;
- ``bid_price``: the forecast's bid price, in its currency (absent when it has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)
DEMAND_PLACES = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class FamilyControl:
    """One family's control: the seats protected for the families above it."""

    code: str
    multiplier: Decimal
    protected: int  # P: seats left at forecast time less its booking limit then
    demand: float  # its demand still to come, at forecast time


def _sold_family(families: Sequence[FamilyControl]) -> int:
    """The family shopping sells: multiplier 1, else the nearest (the dearer of two as near)."""
    return min(
        range(len(families)),
        key=lambda i: (abs(families[i].multiplier - 1), -families[i].multiplier),
    )


@dataclass(frozen=True, slots=True)
class CabinControls:
    """A cabin's controls from its latest forecast; compare equal when the forecast is the same."""

    capacity: int
    seats_left: int  # at forecast time
    families: tuple[FamilyControl, ...]  # highest first
    bid_price: Decimal | None  # in ``currency``
    currency: str | None
    sold: int = field(init=False)  # the index of the family shopping sells
    expected: Decimal = field(init=False)  # demand still to come at forecast time, all families
    # The facts by (capacity, taken, sellable): every search of one read of the counters asks
    # the same, so they are worked out once (a few dozen states at most, then started again).
    _facts: dict[tuple[int, int, int], dict[str, Decimal]] = field(
        init=False, default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if not self.families:
            raise ValueError("a cabin's controls need at least one family")
        object.__setattr__(self, "sold", _sold_family(self.families))
        total = sum(max(f.demand, 0.0) for f in self.families)
        object.__setattr__(self, "expected", Decimal(repr(round(total, 2))))

    @classmethod
    def of(
        cls,
        *,
        capacity: int,
        seats_left: int,
        families: Sequence[tuple[str, Decimal, int, float]],
        bid_price: Decimal | None = None,
        currency: str | None = None,
    ) -> CabinControls:
        """Controls from a forecast's figures: per family, highest first, its code, multiplier,
        booking limit and demand still to come, all at forecast time."""
        left = max(int(seats_left), 0)
        return cls(
            capacity=int(capacity),
            seats_left=left,
            families=tuple(
                FamilyControl(code, Decimal(multiplier), max(left - int(limit), 0), float(demand))
                for code, multiplier, limit, demand in families
            ),
            bid_price=bid_price,
            currency=currency,
        )

    def family(self, code: str | None = None) -> FamilyControl:
        """The family named ``code``; the one shopping sells when None or not one of these."""
        if code is not None:
            for family in self.families:
                if family.code == code:
                    return family
        return self.families[self.sold]

    def limit(self, sellable: int, code: str | None = None) -> int:
        """How many more seats the family may sell now, with ``sellable`` seats unsold."""
        return max(0, sellable - self.family(code).protected)

    def limits(self, sellable: int) -> tuple[int, ...]:
        """Every family's limit now, highest first (nested: never increasing)."""
        return tuple(max(0, sellable - f.protected) for f in self.families)

    def to_come(self, taken: int) -> Decimal:
        """Demand still to come with ``taken`` seats sold and held now."""
        arrived = max(taken - (self.capacity - self.seats_left), 0)
        return max(self.expected - arrived, ZERO)

    def facts(self, *, capacity: int, taken: int, sellable: int) -> dict[str, Decimal]:
        """The forecast facts of pricing rules for the family shopping sells, with ``taken``
        seats sold and held of ``capacity`` and ``sellable`` unsold (the same mapping for the
        same counters: read it, never change it)."""
        key = (capacity, taken, sellable)
        found = self._facts.get(key)
        if found is None:
            if len(self._facts) >= 64:
                self._facts.clear()
            found = self._facts[key] = self._work_out(capacity, taken, sellable)
        return found

    def _work_out(self, capacity: int, taken: int, sellable: int) -> dict[str, Decimal]:
        sold = self.families[self.sold]
        to_come = self.to_come(taken)
        out = {
            "expected_demand": to_come,
            "forecast_load_factor": (
                (Decimal(taken) + to_come) / Decimal(capacity) if capacity > 0 else Decimal(1)
            ),
            "booking_limit": Decimal(max(0, sellable - sold.protected)),
            "protection_level": Decimal(sold.protected),
        }
        if self.bid_price is not None:
            out["bid_price"] = self.bid_price
        return out
