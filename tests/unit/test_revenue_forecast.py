"""Demand forecasts: pickup curves recovered from synthetic histories of known demand, and
unconstraining that recovers what closed families cut short better than raw bookings do."""

from __future__ import annotations

import numpy as np
import pytest

from offerengine.revenue.core import forecast as fc
from offerengine.revenue.core.synthetic import Market, history
from offerengine.revenue.core.unconstrain import unconstrain

EDGES = (90, 60, 30, 14, 7, 3, 0)
# Low fares book early, high fares late: the shapes RM systems see.
CURVE = np.array(
    [
        [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 2.0],  # FLEX
        [3.0, 4.0, 5.0, 4.0, 3.0, 2.0, 0.5],  # STANDARD
        [8.0, 9.0, 7.0, 4.0, 2.0, 1.0, 0.2],  # LIGHT
    ]
)
WEEKDAY = np.array([1.1, 0.8, 0.8, 0.9, 1.3, 1.2, 0.9])
FAMILIES = ("FLEX", "STANDARD", "LIGHT")


def market(limits: tuple[float, ...] | None = None) -> Market:
    return Market(FAMILIES, EDGES, CURVE, WEEKDAY, limits)


def test_the_pickup_curves_and_the_weekday_baseline_are_recovered() -> None:
    past = history(market(), "2025-01-01", 364, seed=1)
    model = fc.fit(past)
    level = model.weekday.mean()  # factors are relative: compare shapes on one scale
    np.testing.assert_allclose(model.weekday / level, WEEKDAY / WEEKDAY.mean(), rtol=0.06)
    totals, truth = model.mean.sum(axis=1), CURVE.sum(axis=1)  # each family's share of demand
    np.testing.assert_allclose(totals / totals.sum(), truth / truth.sum(), rtol=0.05)

    # A Friday and a Tuesday a year on, nothing booked yet: within 8 % of the true demand.
    days = np.array(["2026-01-02", "2026-01-06"], dtype="datetime64[D]")
    predicted = fc.forecast(model, days, np.array([120, 120]), np.zeros((2, 3)))
    np.testing.assert_allclose(predicted.mean, market().expected(days), rtol=0.08)
    assert (predicted.sd > 0).all()


def test_the_forecast_adds_what_is_to_come_to_what_is_booked() -> None:
    model = fc.fit(history(market(), "2025-01-01", 200, seed=2))
    day = np.array(["2026-03-06"], dtype="datetime64[D]")
    booked = np.array([[5.0, 20.0, 40.0]])
    at_14 = fc.forecast(model, day, np.array([14]), booked)
    at_0 = fc.forecast(model, day, np.array([0]), booked)
    at_10 = fc.forecast(model, day, np.array([10]), booked)
    # Two weeks out, the last four periods are to come (14–8, 7–4, 3–1 and the day); on the
    # day, only the day's own.
    factor = model.factor(day)[0]
    np.testing.assert_allclose(at_14.to_come[0], factor * model.mean[:, 3:].sum(axis=1))
    np.testing.assert_allclose(at_0.to_come[0], factor * model.mean[:, 6])
    # Ten days out: three of the seven days of the 14–8 period are still to come (10, 9, 8).
    share = 3 / 7
    np.testing.assert_allclose(
        at_10.to_come[0], factor * (share * model.mean[:, 3] + model.mean[:, 4:].sum(axis=1))
    )
    assert (at_14.mean >= booked).all()


def test_unconstraining_recovers_censored_demand_better_than_raw_bookings() -> None:
    # LIGHT is limited to 25 seats: it closes on most departures, its bookings fall short.
    censored = history(market((1_000.0, 1_000.0, 25.0)), "2025-01-01", 364, seed=3)
    assert censored.closed[:, 2].any(axis=1).mean() > 0.5
    days = np.array(["2026-01-05", "2026-01-09"], dtype="datetime64[D]")
    truth = market().expected(days)[:, 2]
    ahead, nothing = np.array([120, 120]), np.zeros((2, 3))
    raw = fc.forecast(fc.fit(censored, unconstrained=False), days, ahead, nothing)
    fixed = fc.forecast(fc.fit(censored), days, ahead, nothing)
    raw_error = np.abs(raw.mean[:, 2] - truth) / truth
    fixed_error = np.abs(fixed.mean[:, 2] - truth) / truth
    assert (raw_error > 0.15).all()  # raw bookings forecast far too little
    assert (fixed_error < raw_error / 2).all()
    assert (fixed_error < 0.12).all()
    # The families that never close stay right (busy days' closures no longer flatten the
    # weekday factors they share).
    np.testing.assert_allclose(fixed.mean[:, :2], market().expected(days)[:, :2], rtol=0.08)


def test_em_matches_a_censored_normal_sample() -> None:
    rng = np.random.default_rng(7)
    demand = rng.normal(50.0, 10.0, size=(20_000, 1))
    cap = 52.0
    observed = np.minimum(demand, cap)
    found = unconstrain(observed, demand >= cap, np.ones(len(demand)))
    assert abs(found.mean[0] - 50.0) < 0.3
    assert abs(found.sd[0] - 10.0) < 0.3
    assert observed.mean() < 47.0  # what the plain mean would have said
    # No value known exactly: nothing anchors EM, the plain estimate stays.
    all_closed = unconstrain(observed, np.ones_like(observed, dtype=bool), np.ones(len(demand)))
    assert all_closed.mean[0] == pytest.approx(observed.mean())


def test_held_out_accuracy_is_reported_per_reading_point() -> None:
    report = fc.accuracy(history(market(), "2025-01-01", 300, seed=4), holdout=0.25)
    assert report.departures == 75
    assert [row[0] for row in report.by_bucket] == list(EDGES)
    assert 0 < report.mape < 0.2
    assert abs(report.bias) < 0.05
    # The closer to departure, the more is known: on the day the error is smallest.
    assert report.by_bucket[-1][1] < report.by_bucket[0][1]


def test_bad_histories_and_requests_are_refused() -> None:
    dates = np.array(["2025-01-01"], dtype="datetime64[D]")
    ok = np.zeros((1, 1, 2))
    with pytest.raises(fc.ForecastError):
        fc.History(("A",), (0, 10), dates, ok, ok.astype(bool))  # edges ascending
    with pytest.raises(fc.ForecastError):
        fc.History(("A",), (10, 0), dates, -ok - 1, ok.astype(bool))
    with pytest.raises(fc.ForecastError):
        fc.History(("A",), (10, 0), dates, np.zeros((1, 2, 2)), ok.astype(bool))
    with pytest.raises(fc.ForecastError):
        fc.fit(fc.History(("A",), (10, 0), dates[:0], ok[:0], ok[:0].astype(bool)))
    model = fc.fit(fc.History(("A",), (10, 0), dates, ok + 1, ok.astype(bool)))
    with pytest.raises(fc.ForecastError):
        fc.forecast(model, dates, np.array([-1]), np.zeros((1, 1)))
    with pytest.raises(fc.ForecastError):
        fc.forecast(model, dates, np.array([1]), np.zeros((1, 2)))
    with pytest.raises(fc.ForecastError):
        fc.accuracy(fc.History(("A",), (10, 0), dates, ok, ok.astype(bool)))
