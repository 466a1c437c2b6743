"""A cabin's booking controls kept current as bookings arrive: limits from the seats protected at
forecast time, the family shopping sells, and the forecast facts pricing rules see."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offerengine.revenue.core.controls import CabinControls
from offerengine.revenue.core.plan import plan

# Talluri & van Ryzin's four classes on a 100-seat cabin: limits (100, 83, 49, 17).
CODES = ("Y", "M", "B", "Q")
FARES = [Decimal("1050"), Decimal("567"), Decimal("534"), Decimal("520")]
MEANS = [17.3, 45.1, 39.6, 34.0]
SDS = [5.8, 15.0, 13.2, 11.3]


def _textbook(multipliers: tuple[str, ...] = ("2", "1.1", "1", "0.9")) -> CabinControls:
    made = plan(CODES, FARES, [0, 0, 0, 0], MEANS, SDS, 100, Decimal("0.01"))
    assert made.limits == (100, 83, 49, 17)
    return CabinControls.of(
        capacity=100,
        seats_left=made.seats_left,
        families=[
            (f.code, Decimal(m), f.limit, f.mean)
            for f, m in zip(made.families, multipliers, strict=True)
        ],
        bid_price=made.bid_price,
        currency="USD",
    )


def test_the_limits_at_forecast_time_are_the_forecasts_and_fall_with_each_booking() -> None:
    controls = _textbook()
    assert [f.protected for f in controls.families] == [0, 17, 51, 83]
    assert controls.limits(100) == (100, 83, 49, 17)
    # Ten seats sold to any family: every family may sell ten fewer.
    assert controls.limits(90) == (90, 73, 39, 7)
    # Q closes once 17 seats are gone; Y sells to the last seat.
    assert controls.limits(83) == (83, 66, 32, 0)
    assert controls.limits(1) == (1, 0, 0, 0)
    assert controls.limits(0) == (0, 0, 0, 0)


def test_the_family_sold_is_the_one_at_multiplier_1_else_the_nearest_and_the_dearer_of_two() -> (
    None
):
    assert controls_sold(("2", "1.1", "1", "0.9")) == "B"
    assert controls_sold(("2", "1.5", "1.3", "0.95")) == "Q"  # the nearest
    assert controls_sold(("2", "1.5", "1.1", "0.9")) == "B"  # as near either side: the dearer


def controls_sold(multipliers: tuple[str, ...]) -> str:
    return _textbook(multipliers).family().code


def test_a_named_family_has_its_own_limit_and_an_unknown_one_is_the_family_sold() -> None:
    controls = _textbook()
    assert controls.limit(60, "M") == 43
    assert controls.limit(60, "Q") == 0
    assert controls.limit(60, "NOPE") == controls.limit(60) == 9


def test_the_facts_follow_the_bookings_since_the_forecast_without_counting_them_twice() -> None:
    controls = _textbook()
    expected = Decimal(str(round(sum(MEANS), 2)))
    at_forecast = controls.facts(capacity=100, taken=0, sellable=100)
    assert at_forecast["expected_demand"] == expected
    assert at_forecast["forecast_load_factor"] == expected / 100
    assert at_forecast["booking_limit"] == 49
    assert at_forecast["protection_level"] == 51
    assert at_forecast["bid_price"] == controls.bid_price
    # Twenty seats taken since: twenty of the demand to come has come; the load factor holds.
    later = controls.facts(capacity=100, taken=20, sellable=80)
    assert later["expected_demand"] == expected - 20
    assert later["forecast_load_factor"] == at_forecast["forecast_load_factor"]
    assert later["booking_limit"] == 29
    # More than was forecast: nothing is left to come, and the load factor is what is taken.
    full = controls.facts(capacity=100, taken=150, sellable=0)
    assert full["expected_demand"] == 0
    assert full["forecast_load_factor"] == Decimal("1.5")
    assert full["booking_limit"] == 0


def test_seats_taken_before_the_forecast_are_not_demand_that_came_after_it() -> None:
    made = plan(CODES, FARES, [0, 0, 0, 0], MEANS, SDS, 60, Decimal("0.01"))
    controls = CabinControls.of(
        capacity=100,
        seats_left=60,
        families=[
            (f.code, Decimal(m), f.limit, f.mean)
            for f, m in zip(made.families, "4321", strict=True)
        ],
    )
    assert controls.to_come(40) == controls.expected
    assert controls.to_come(45) == controls.expected - 5
    assert "bid_price" not in controls.facts(capacity=100, taken=40, sellable=60)


def test_controls_need_a_family() -> None:
    with pytest.raises(ValueError, match="at least one family"):
        CabinControls.of(capacity=10, seats_left=10, families=[])


@given(
    st.lists(st.integers(0, 400), min_size=1, max_size=6),
    st.integers(0, 400),
    st.integers(0, 500),
)
def test_limits_nest_never_exceed_the_seats_sellable_and_never_go_negative(
    limits: list[int], seats_left: int, sellable: int
) -> None:
    nested = sorted((min(b, seats_left) for b in limits), reverse=True)
    nested[0] = seats_left
    controls = CabinControls.of(
        capacity=seats_left,
        seats_left=seats_left,
        families=[(f"F{i}", Decimal(len(nested) - i), b, 1.0) for i, b in enumerate(nested)],
    )
    now = controls.limits(sellable)
    assert list(now) == sorted(now, reverse=True)
    assert now[0] == sellable
    assert all(0 <= b <= sellable for b in now)
    if sellable == seats_left:
        assert list(now) == nested
