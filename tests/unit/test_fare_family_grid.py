"""The pure parts of branded fares: which family a set sells by default, a family's fare, the
set that applies to a route, a journey slice's grid from its segments', and the grid as shown."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offerengine.shopping.core import FamilySet, FareFamilies, FareFamily
from offerengine.shopping.core._family_grid import FamilyGrid, FamilyRow, grid_json, slice_grid


def family(code: str, multiplier: str) -> FareFamily:
    return FareFamily.of(code, code.title(), Decimal(multiplier), {"checked_bags": 1}, "USD")


def test_a_set_sells_the_family_at_one_else_the_nearest_the_dearer_of_two() -> None:
    assert FamilySet("ECONOMY", None, (family("A", "1.5"), family("B", "1"))).default == "B"
    assert FamilySet("ECONOMY", None, (family("A", "1.2"), family("B", "0.9"))).default == "B"
    assert FamilySet("ECONOMY", None, (family("A", "1.1"), family("B", "0.9"))).default == "A"
    with pytest.raises(ValueError, match="at least one family"):
        FamilySet("ECONOMY", None, ())


@given(
    fare=st.decimals(min_value=0, max_value=100_000, places=2),
    multiplier=st.decimals(min_value="0.0001", max_value=100, places=4),
)
def test_a_familys_fare_is_the_cabin_fare_times_its_multiplier_rounded_once(
    fare: Decimal, multiplier: Decimal
) -> None:
    found = FareFamily.of("F", "F", multiplier, {}, "USD").fare(fare, "USD")
    assert found == (fare * multiplier).quantize(Decimal("0.01"))
    assert found >= 0
    assert FareFamily.of("S", "S", Decimal(1), {}, "USD").fare(fare, "USD") == fare


def test_a_routes_own_set_wins_over_the_cabins_all_routes_set() -> None:
    every = FamilySet("ECONOMY", None, (family("A", "1"),))
    own = FamilySet("ECONOMY", "JFK-LHR", (family("B", "1"),))
    families = FareFamilies.build([every, own])
    assert families.for_route("ECONOMY", "JFK", "LHR") is own
    assert families.for_route("ECONOMY", "LHR", "JFK") is every
    assert families.for_route("BUSINESS", "JFK", "LHR") is None
    assert families.codes == {"ECONOMY": frozenset({"A", "B"})}
    assert not FareFamilies()


def _row(code: str, amount: str, remaining: int, available: bool = True) -> FamilyRow:
    return FamilyRow(code, family(code, "1").members, Decimal(amount), remaining, available)


def test_a_slice_grid_adds_its_segments_over_the_families_they_share() -> None:
    first = FamilyGrid((_row("BASIC", "80", 9), _row("STD", "100", 5), _row("FLEX", "150", 5)))
    second = FamilyGrid((_row("STD", "60", 2, available=False), _row("FLEX", "90", 4)))
    combined = slice_grid([first, second])
    assert combined is not None
    assert [(r.code, r.amount, r.remaining, r.available) for r in combined.rows] == [
        ("STD", Decimal(160), 2, False),
        ("FLEX", Decimal(240), 4, True),
    ]
    assert slice_grid([first, None]) is None
    assert slice_grid([first]) is first


def test_the_grid_shows_each_familys_total_and_difference_from_the_offer() -> None:
    grid = FamilyGrid((_row("BASIC", "80.00", 9), _row("STD", "100.00", 5, available=False)))
    shown = json.loads(grid_json(grid, "STD", Decimal("130.00"), "USD"))
    assert [(f["code"], f["total"], f["difference"], f["selected"]) for f in shown] == [
        ("BASIC", "110.00", "-20.00", False),
        ("STD", "130.00", "0.00", True),
    ]
    assert shown[0]["attributes"] == {"checked_bags": 1}
    assert shown[0]["fee_currency"] == "USD"
    assert (shown[1]["available"], shown[1]["remaining"]) == (False, 5)
