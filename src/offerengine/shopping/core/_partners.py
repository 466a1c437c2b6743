"""Partner products in a bundle (hotel nights, car hire, travel insurance): how many units of a
partner line an offer sells, and the line's item.

A catalog product with a ``pricing_unit`` is priced for the party, not per seated passenger:

- ``per_trip``: once per offer (× the line's quantity);
- ``per_night`` (HOTEL) and ``per_day`` (CAR): the stay × the line's quantity (rooms, cars). A
  journey of two or more slices stays from its first slice's date to its last slice's date (as
  searched; at least one); a one-way search stays the line's ``nights`` (default 1);
- ``per_passenger``: every passenger, infants included, × the line's quantity.

A journey takes a partner line once, with its first slice (the slice that arrives where the stay
is); its other slices leave it out. The item names the partner, the unit, the count and the unit
price, and its ``units`` say how the count came about. Party-priced items (per trip, night, day)
are in the offer's total but not in what one passenger pays (``per_passenger``): a room is not
split between travellers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from offerengine.bundles.core import ItemSpec
from offerengine.catalog import core as catalog
from offerengine.catalog.core import ProductFacts
from offerengine.inventory.core import FlightFacts
from offerengine.shopping.core._availability import ExtraChoice
from offerengine.shopping.core._currency import SellingCurrency
from offerengine.shopping.core._items import line_head, line_price, price_trace
from offerengine.shopping.core._search import Search

DEFAULT_NIGHTS = 1
_WORDS = {
    catalog.PER_NIGHT: ("night", "nights", "room", "rooms"),
    catalog.PER_DAY: ("day", "days", "car", "cars"),
}


@dataclass(frozen=True, slots=True)
class PartnerUnits:
    """How many units of a partner line an offer sells, and why."""

    unit: str  # the product's pricing unit
    count: int  # units priced: per × quantity
    per: int  # nights, days, passengers, or 1 (the trip)
    quantity: int  # the line's quantity: rooms, cars, policies per passenger
    explanation: str

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "count": self.count,
            "per": self.per,
            "quantity": self.quantity,
            "explanation": self.explanation,
        }


def stay(search: Search, line: ItemSpec) -> tuple[int, str]:
    """The nights (or days) a partner line sells, and where the number comes from."""
    if len(search.slices) >= 2:
        first, last = search.slices[0].day, search.slices[-1].day
        nights = max(1, (last - first).days)
        return nights, f"{first.isoformat()} to {last.isoformat()}"
    nights = line.nights or DEFAULT_NIGHTS
    return nights, "one way: the package's " + ("nights" if line.nights else "default")


def units_of(product: ProductFacts, line: ItemSpec, search: Search) -> PartnerUnits | None:
    """The units of ``line`` when its product has a pricing unit; None: per seated passenger."""
    unit = product.pricing_unit
    if unit is None:
        return None
    quantity = line.quantity
    if unit in _WORDS:
        one, many, thing, things = _WORDS[unit]
        nights, why = stay(search, line)
        return PartnerUnits(
            unit,
            nights * quantity,
            nights,
            quantity,
            f"{nights} {one if nights == 1 else many} ({why}) × {quantity} "
            f"{thing if quantity == 1 else things}",
        )
    if unit == catalog.PER_PASSENGER:
        people = search.passengers.seated + search.passengers.infants
        return PartnerUnits(
            unit,
            people * quantity,
            people,
            quantity,
            f"{people} passenger{'' if people == 1 else 's'} × {quantity}",
        )
    return PartnerUnits(unit, quantity, 1, quantity, f"1 trip × {quantity}")


def on_first_slice(flight: FlightFacts, search: Search) -> bool:
    """Whether ``flight`` starts the journey's first slice (always, for the one-way shape and
    a one-slice journey): a partner line is taken there only."""
    if len(search.slices) < 2:
        return True
    first = search.slices[0]
    return flight.origin == first.origin and flight.departure_date in first.dates()


def partner_item(
    index: int,
    line: ItemSpec,
    choice: ExtraChoice,
    discount_pct: Decimal,
    units: PartnerUnits,
    *,
    currency: SellingCurrency,
    counts: Sequence[tuple[str, int]],
) -> dict[str, Any]:
    """A partner line's item: its unit price × the units, less the bundle discount."""
    product, result = choice.product, choice.price_result
    price = line_price(choice, discount_pct, currency)
    passengers = (
        [{"type": k, "count": n * units.quantity, "unit_price": str(price.paid)} for k, n in counts]
        if units.unit == catalog.PER_PASSENGER
        else []  # for the party: in the total, not in what one passenger pays
    )
    return {
        **line_head(index, line, product),
        "partner": product.partner(),
        "pricing_unit": units.unit,
        "units": units.as_json(),
        "unit_price": str(price.paid),
        "passengers": passengers,
        "price": price.of(units.count),
        "availability": {"status": choice.status, "remaining": choice.remaining},
        "pricing": price_trace(result, price.rate),
    }
