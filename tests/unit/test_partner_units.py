"""How many units of a partner line an offer sells: nights and days over a journey's stay or a
one-way's default, passengers with infants, the trip once; and which slice takes the line."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from offerengine.bundles.core import ItemSpec
from offerengine.catalog.core import ProductFacts, partner_errors
from offerengine.shopping.core._journeys import Slice
from offerengine.shopping.core._partners import stay, units_of
from offerengine.shopping.core._search import Passengers, Search

DAY = date(2026, 12, 20)


def _product(kind: str, unit: str | None) -> ProductFacts:
    return ProductFacts(
        id=uuid.uuid4(),
        product_code=f"{kind}-1",
        product_type=kind,
        category=None,
        name=kind,
        description=None,
        base_price=Decimal("100.00"),
        currency="USD",
        cost=None,
        attributes={},
        is_active=True,
        version=1,
        partner_code="P1",
        partner_name="Partner",
        pricing_unit=unit,
    )


def _search(*days: int, adults: int = 2, children: int = 0, infants: int = 0) -> Search:
    slices = tuple(
        Slice(
            "JFK" if n % 2 == 0 else "LHR",
            "LHR" if n % 2 == 0 else "JFK",
            DAY.fromordinal(DAY.toordinal() + d),
        )
        for n, d in enumerate(days)
    )
    return Search(
        origin="JFK",
        destination="LHR",
        day=DAY,
        passengers=Passengers(adults, children, infants),
        currency="USD",
        slices=slices,
    )


@given(back=st.integers(min_value=0, max_value=30), rooms=st.integers(min_value=1, max_value=3))
def test_a_round_trip_stays_the_nights_between_its_dates_at_least_one(
    back: int, rooms: int
) -> None:
    line = ItemSpec("HOTEL", True, quantity=rooms, nights=9)
    sold = units_of(_product("HOTEL", "per_night"), line, _search(0, back))
    assert sold is not None
    assert sold.per == max(1, back)
    assert sold.count == max(1, back) * rooms


def test_a_one_way_stays_the_lines_nights_else_one() -> None:
    assert stay(_search(), ItemSpec("CAR", True, nights=4))[0] == 4
    assert stay(_search(), ItemSpec("CAR", True))[0] == 1
    assert stay(_search(0), ItemSpec("CAR", True, nights=4))[0] == 4  # a one-slice journey


def test_passengers_count_infants_and_a_trip_counts_once() -> None:
    search = _search(adults=2, children=1, infants=1)
    cover = units_of(_product("INSURANCE", "per_passenger"), ItemSpec("INSURANCE", True), search)
    assert cover is not None
    assert cover.count == 4
    transfer = units_of(
        _product("TRANSFER", "per_trip"), ItemSpec("TRANSFER", True, quantity=2), search
    )
    assert transfer is not None
    assert transfer.count == 2
    assert units_of(_product("BAG", None), ItemSpec("BAG", True), search) is None


def test_units_belong_to_their_product_types() -> None:
    assert partner_errors("HOTEL", "P1", "P", "per_night") == []
    assert [e.loc for e in partner_errors("CAR", None, None, "per_night")] == [
        ("body", "pricing_unit")
    ]
    assert [e.loc for e in partner_errors("FLIGHT", None, None, "per_trip")] == [
        ("body", "pricing_unit")
    ]
    assert [e.loc for e in partner_errors("HOTEL", "P1", None, None)] == [("body", "partner_name")]
    assert partner_errors("INSURANCE", None, None, "per_passenger") == []
