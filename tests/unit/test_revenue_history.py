"""Booking histories assembled for the forecast: bookings by departure, family and booking period,
one source per departure, families a set does not name left out and counted, sold-out cabins
closed from the period they filled."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from offerengine.revenue.core import forecast as fc
from offerengine.revenue.core.history import (
    IMPORT,
    ORDERS,
    Booking,
    Ladder,
    assemble,
    booked,
    bucket,
    curve,
)
from offerengine.revenue.core.plan import plan

EDGES = (90, 60, 30, 21, 14, 7, 3, 0)
TODAY = date(2026, 12, 7)
LADDER = Ladder(("FLEX", "STANDARD", "SAVER"), "STANDARD", EDGES)


def _b(day: int, family: str | None, days_before: int, count: int = 1, **kw: object) -> Booking:
    values: dict[str, object] = {
        "flight": "OE100",
        "departure": TODAY - timedelta(days=day),
        "route": "JFK-LHR",
        "cabin": "ECONOMY",
        "family": family,
        "days_before": days_before,
        "count": count,
    } | kw
    return Booking(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("days_before", "period"),
    [
        (400, 0),
        (91, 0),
        (90, 0),
        (61, 0),
        (60, 1),
        (31, 1),
        (30, 2),
        (8, 4),
        (7, 5),
        (4, 5),
        (3, 6),
        (1, 6),
        (0, 7),
    ],
)
def test_a_booking_falls_in_the_period_its_days_before_departure_lie_in(
    days_before: int, period: int
) -> None:
    assert bucket(EDGES, days_before) == period


def test_bookings_add_up_per_departure_family_and_period_in_date_order() -> None:
    rows = [
        _b(10, "FLEX", 5, 2),
        _b(10, "FLEX", 4, 1),  # the same period (7–4): adds up
        _b(10, "SAVER", 45, 3),
        _b(20, "STANDARD", 100, 4),  # before the horizon: the first period
        _b(20, None, 0, 1),  # an order of no known family: the base family
    ]
    found = assemble(rows, lambda _: LADDER, before=TODAY)[("JFK-LHR", "ECONOMY")]
    history = found.history
    assert list(history.departures) == [
        np.datetime64(TODAY - timedelta(days=20)),
        np.datetime64(TODAY - timedelta(days=10)),
    ]
    assert history.bookings.shape == (2, 3, 8)
    assert history.bookings[1, 0, 5] == 3
    assert history.bookings[1, 2, 1] == 3
    assert history.bookings[0, 1, 0] == 4
    assert history.bookings[0, 1, 7] == 1
    assert history.bookings.sum() == 11
    assert not history.closed.any()


def test_departures_yet_to_leave_are_not_history() -> None:
    rows = [_b(3, "FLEX", 5), _b(0, "FLEX", 5), _b(-5, "FLEX", 5)]
    found = assemble(rows, lambda _: LADDER, before=TODAY)[("JFK-LHR", "ECONOMY")]
    assert len(found.history.departures) == 1


def test_an_imported_departure_is_its_history_and_its_orders_are_not_counted_twice() -> None:
    rows = [
        _b(10, "FLEX", 5, 2, source=IMPORT),
        _b(10, "FLEX", 5, 1, source=ORDERS),  # the same departure, also sold by the engine
        _b(11, "FLEX", 5, 1, source=ORDERS),  # a departure only the orders know
    ]
    history = assemble(rows, lambda _: LADDER, before=TODAY)[("JFK-LHR", "ECONOMY")].history
    assert history.bookings[:, 0, 5].tolist() == [1, 2]


def test_families_a_set_does_not_name_are_left_out_and_counted() -> None:
    rows = [_b(10, "FLEX", 5, 2), _b(10, "Y", 5, 3), _b(11, "Y", 40, 1)]
    found = assemble(rows, lambda _: LADDER, before=TODAY)[("JFK-LHR", "ECONOMY")]
    assert found.history.bookings.sum() == 2
    assert found.left_out == {"Y": 4}


def test_a_cabin_without_a_set_is_one_class_every_booking_counts_in() -> None:
    single = Ladder(("ECONOMY",), "ECONOMY", EDGES, absorbs=True)
    rows = [_b(10, "FLEX", 5, 2), _b(10, "Y", 5, 3), _b(10, None, 40, 1)]
    found = assemble(rows, lambda _: single, before=TODAY)[("JFK-LHR", "ECONOMY")]
    assert found.history.bookings[0, 0].tolist() == [0, 1, 0, 0, 0, 5, 0, 0]
    assert found.left_out == {}


def test_closures_mark_their_cell_and_a_full_cabin_closes_every_family_from_its_period() -> None:
    rows = [_b(10, "SAVER", 25, 2, closed=True), _b(11, "FLEX", 2, 1)]
    departed = TODAY - timedelta(days=11)
    filled = {("JFK-LHR", "ECONOMY", "OE100", departed): 5}
    history = assemble(rows, lambda _: LADDER, before=TODAY, filled=filled)[
        ("JFK-LHR", "ECONOMY")
    ].history
    assert history.closed[1].nonzero() == (np.array([2]), np.array([2]))
    assert history.closed[0, :, :5].sum() == 0
    assert history.closed[0, :, 5:].all()


def test_markets_are_kept_apart_and_each_has_its_own_ladder() -> None:
    rows = [_b(10, "FLEX", 5), _b(10, "J", 5, cabin="BUSINESS"), _b(10, "FLEX", 5, route="JFK-CDG")]
    ladders = {
        ("JFK-LHR", "ECONOMY"): LADDER,
        ("JFK-LHR", "BUSINESS"): Ladder(("J", "C"), "J", (30, 0)),
        ("JFK-CDG", "ECONOMY"): LADDER,
    }
    found = assemble(rows, ladders.__getitem__, before=TODAY)
    assert set(found) == set(ladders)
    assert found[("JFK-LHR", "BUSINESS")].history.bookings.shape == (1, 2, 2)


def test_the_digest_changes_with_the_bookings_and_only_with_them() -> None:
    rows = [_b(10, "FLEX", 5, 2), _b(11, "SAVER", 40, 1)]
    first = assemble(rows, lambda _: LADDER, before=TODAY)[("JFK-LHR", "ECONOMY")].digest
    again = assemble(rows[::-1], lambda _: LADDER, before=TODAY)[("JFK-LHR", "ECONOMY")].digest
    more = assemble([*rows, _b(11, "SAVER", 40, 1)], lambda _: LADDER, before=TODAY)
    assert first == again
    assert more[("JFK-LHR", "ECONOMY")].digest != first


def test_a_future_departures_bookings_so_far_and_its_curve() -> None:
    rows = [_b(-10, "FLEX", 40, 2), _b(-10, None, 12, 1), _b(-10, "Y", 12, 5)]
    assert booked(rows, LADDER).tolist() == [2, 1, 0]
    periods = curve(rows, LADDER)
    assert [(p.days_before, p.until) for p in periods][:3] == [(90, 61), (60, 31), (30, 22)]
    assert (periods[-1].days_before, periods[-1].until) == (0, 0)
    assert periods[1].by_family == {"FLEX": 2, "STANDARD": 0, "SAVER": 0}
    assert periods[4].total == 1


def test_an_assembled_history_fits_and_its_plan_nests() -> None:
    rng = np.random.default_rng(3)
    rows = [
        _b(day, family, days, int(n))
        for day in range(1, 40)
        for family, scale in (("FLEX", 1.0), ("STANDARD", 3.0), ("SAVER", 6.0))
        for days in (80, 45, 25, 18, 10, 5, 2, 0)
        for n in [rng.poisson(scale)]
    ]
    history = assemble(rows, lambda _: LADDER, before=TODAY)[("JFK-LHR", "ECONOMY")].history
    model = fc.fit(history)
    ahead = fc.forecast(
        model, np.array([TODAY], dtype="datetime64[D]"), np.array([30]), np.zeros((1, 3))
    )
    from decimal import Decimal

    cabin = plan(
        LADDER.families,
        [Decimal("400"), Decimal("250"), Decimal("120")],
        [0, 0, 0],
        ahead.to_come[0],
        ahead.sd[0],
        60,
        Decimal("0.01"),
    )
    assert cabin.limits[0] == 60
    assert list(cabin.limits) == sorted(cabin.limits, reverse=True)
    assert cabin.bid_price is not None
    assert Decimal(0) <= cabin.bid_price <= Decimal("400")
