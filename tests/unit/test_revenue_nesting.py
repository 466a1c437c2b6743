"""EMSR-b: the textbook case worked by hand, and the properties every nesting must keep."""

from __future__ import annotations

import math
from decimal import Decimal
from statistics import NormalDist

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offerengine.revenue.core.nesting import FareClass, NestingError, emsr_b

# Talluri & van Ryzin, The Theory and Practice of Revenue Management, Example 2.4: four classes
# with normal demand. Their EMSR-b protection levels, to one decimal: 16.7, 50.9, 83.2.
TEXTBOOK = [
    FareClass("Y", Decimal("1050"), 17.3, 5.8),
    FareClass("M", Decimal("567"), 45.1, 15.0),
    FareClass("B", Decimal("534"), 39.6, 13.2),
    FareClass("Q", Decimal("520"), 34.0, 11.3),
]


def test_the_textbook_case_by_hand() -> None:
    z = NormalDist().inv_cdf
    # y1: class Y alone against M: 17.3 + 5.8 Φ⁻¹(1 − 567/1050)
    y1 = 17.3 + 5.8 * z(1 - 567 / 1050)
    # y2: Y+M (mean 62.4, sd √(5.8² + 15²), fare (1050·17.3 + 567·45.1)/62.4) against B
    fare2 = (1050 * 17.3 + 567 * 45.1) / 62.4
    y2 = 62.4 + math.sqrt(5.8**2 + 15.0**2) * z(1 - 534 / fare2)
    # y3: Y+M+B (mean 102) against Q
    fare3 = (1050 * 17.3 + 567 * 45.1 + 534 * 39.6) / 102.0
    y3 = 102.0 + math.sqrt(5.8**2 + 15.0**2 + 13.2**2) * z(1 - 520 / fare3)
    assert (round(y1, 2), round(y2, 2), round(y3, 2)) == (16.72, 50.94, 83.15)
    assert (round(fare2, 2), round(fare3, 2)) == (700.91, 636.11)

    nesting = emsr_b(TEXTBOOK, 100)

    assert [round(y, 2) for y in nesting.protection] == [16.72, 50.94, 83.15]
    assert [round(y, 1) for y in nesting.protection] == [16.7, 50.9, 83.2]  # the book's figures
    assert nesting.limits == (100, 83, 49, 17)
    assert [c.code for c in nesting.classes] == ["Y", "M", "B", "Q"]
    assert nesting.limit("Q") == 17
    assert nesting.protected_for("Y") == 0.0
    assert round(nesting.protected_for("B"), 2) == 50.94


def test_classes_are_ordered_by_fare_whatever_order_they_come_in() -> None:
    assert emsr_b(list(reversed(TEXTBOOK)), 100).limits == (100, 83, 49, 17)


def test_open_classes_follow_the_limits_and_the_bid_price_sits_between_fares() -> None:
    nesting = emsr_b(TEXTBOOK, 100)
    assert nesting.open_classes(0) == ("Y", "M", "B", "Q")
    assert nesting.open_classes(17) == ("Y", "M", "B")
    assert nesting.open_classes(49) == ("Y", "M")
    assert nesting.open_classes(83) == ("Y",)
    assert nesting.open_classes(100) == ()
    previous = Decimal("Infinity")
    for remaining in range(1, 101):
        price = nesting.bid_price(remaining)
        assert price <= previous  # more seats left: a seat is worth no more
        previous = price
        sold = 100 - remaining
        for c in nesting.classes:
            if c.code in nesting.open_classes(sold):
                assert c.fare >= price
            else:
                assert c.fare <= price
    assert nesting.bid_price(100) == Decimal("520.00")
    with pytest.raises(NestingError):
        nesting.bid_price(0)


def test_edge_cases() -> None:
    certain = [
        FareClass("F", Decimal("900"), 10.0, 0.0),
        FareClass("Y", Decimal("300"), 200.0, 0.0),
    ]
    assert emsr_b(certain, 50).limits == (50, 40)  # no spread: protect the mean
    free = [FareClass("F", Decimal("900"), 10.0, 3.0), FareClass("Z", Decimal("0"), 5.0, 1.0)]
    assert emsr_b(free, 30).limits == (30, 0)  # a free class displaces any paying demand
    same = [FareClass("A", Decimal("100"), 10.0, 3.0), FareClass("B", Decimal("100"), 5.0, 1.0)]
    assert emsr_b(same, 30).limits == (30, 30)  # nothing is worth protecting from an equal fare
    assert emsr_b(TEXTBOOK[:1], 0).limits == (0,)
    for bad in (
        [],
        [FareClass("Y", Decimal("1"), -1.0, 1.0)],
        [FareClass("Y", Decimal("1"), 1.0, math.nan)],
        [FareClass("Y", Decimal("-1"), 1.0, 1.0)],
        [FareClass("Y", Decimal("1"), 1.0, 1.0), FareClass("Y", Decimal("2"), 1.0, 1.0)],
    ):
        with pytest.raises(NestingError):
            emsr_b(bad, 10)
    with pytest.raises(NestingError):
        emsr_b(TEXTBOOK, -1)


fare_classes = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=5_000),
        st.floats(min_value=0, max_value=300, allow_nan=False),
        st.floats(min_value=0, max_value=100, allow_nan=False),
    ),
    min_size=1,
    max_size=8,
).map(
    lambda rows: [
        FareClass(f"C{i}", Decimal(fare), mean, sd) for i, (fare, mean, sd) in enumerate(rows)
    ]
)


@settings(max_examples=300, deadline=None)
@given(fare_classes, st.integers(min_value=0, max_value=500))
def test_protection_levels_nest_and_never_exceed_capacity(
    classes: list[FareClass], capacity: int
) -> None:
    nesting = emsr_b(classes, capacity)
    levels = nesting.protection
    assert all(0 <= y <= capacity for y in levels)
    assert list(levels) == sorted(levels)
    limits = nesting.limits
    assert limits[0] == capacity
    assert all(0 <= b <= capacity for b in limits)
    assert list(limits) == sorted(limits, reverse=True)
    fares = [c.fare for c in nesting.classes]
    assert fares == sorted(fares, reverse=True)
    if capacity:
        prices = [nesting.bid_price(x) for x in range(1, capacity + 1)]
        assert prices == sorted(prices, reverse=True)
        assert all(Decimal(0) <= p <= fares[0] for p in prices)
