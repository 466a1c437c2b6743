"""Demand forecasts: additive pickup over booking curves, on a seasonal baseline.

A market's history (one route and cabin) is, per past departure and fare family, the bookings
made in each booking period: days-before-departure buckets such as 90–61, 60–31, …, 3–1, 0. The
model, fitted on it:

1. **Unconstrain** each (family, bucket) column where the family was closed (:mod:`.unconstrain`):
   demand, not bookings, is what the curves learn.
2. **Seasonal baseline**: a departure's demand level is the product of a day-of-week and a
   season (month) factor, each the group's mean unconstrained total over the overall mean,
   shrunk towards 1 by ``SHRINK`` pseudo-departures so that a thin group does not swing it.
3. **Pickup curves**: per family and bucket, the mean and variance of the deseasonalised demand.

The forecast for a future departure, seen at ``days_before`` with ``booked`` seats per family,
is additive: final demand = booked + the pickup still to come (the buckets not yet over, the
current one pro rata by days), times the departure's seasonal factor; its standard deviation
adds the remaining buckets' variances. :func:`accuracy` reports MAPE and bias on held-out
departures, forecast from every bucket's reading point.

Plain arrays in, plain arrays out: no storage, no clock (departure dates are data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from offerengine.revenue.core.unconstrain import unconstrain

SHRINK = 4.0  # pseudo-departures at factor 1 added to every seasonal group
SEASONS = 12  # a season is a calendar month


class ForecastError(ValueError):
    """A history or request that no forecast can be made from."""


@dataclass(frozen=True, slots=True)
class History:
    """Past departures of one market: bookings per family and bucket, and where each family was
    closed (its bookings there are a lower bound of demand)."""

    families: tuple[str, ...]
    edges: tuple[int, ...]  # days before departure, descending: bucket k is (edges[k+1], edges[k]]
    departures: NDArray[np.datetime64]  # (D,) departure dates, datetime64[D]
    bookings: NDArray[np.float64]  # (D, F, K) bookings made in each bucket
    closed: NDArray[np.bool_]  # (D, F, K)

    def __post_init__(self) -> None:
        d, f, k = len(self.departures), len(self.families), len(self.edges)
        if k < 1 or list(self.edges) != sorted(set(self.edges), reverse=True) or self.edges[-1] < 0:
            raise ForecastError("edges must be distinct days before departure, descending, ≥ 0")
        for name, array in (("bookings", self.bookings), ("closed", self.closed)):
            if array.shape != (d, f, k):
                raise ForecastError(
                    f"{name} must be departures × families × buckets ({d}, {f}, {k})"
                )
        if d and (not np.isfinite(self.bookings).all() or (self.bookings < 0).any()):
            raise ForecastError("bookings must be finite and 0 or more")


@dataclass(frozen=True, slots=True)
class PickupModel:
    """What a history taught: per family and bucket, deseasonalised demand's mean and variance,
    and the seasonal factors."""

    families: tuple[str, ...]
    edges: tuple[int, ...]
    mean: NDArray[np.float64]  # (F, K)
    variance: NDArray[np.float64]  # (F, K)
    weekday: NDArray[np.float64]  # (7,) Monday first
    season: NDArray[np.float64]  # (12,) January first
    departures: int  # how many were learnt from
    censored_share: float  # of (departure, family, bucket) cells, the closed ones

    def factor(self, dates: NDArray[np.datetime64]) -> NDArray[np.float64]:
        weekday, month = _calendar(dates)
        factor: NDArray[np.float64] = self.weekday[weekday] * self.season[month]
        return factor

    def remaining_share(self, days_before: NDArray[np.int64]) -> NDArray[np.float64]:
        """(N, K): how much of each bucket is still to come at ``days_before`` (1 ahead, 0 over,
        the current bucket pro rata by days)."""
        upper = np.array(self.edges, dtype=np.float64)  # bucket k ends at edges[k+1]
        lower = np.append(upper[1:], -1.0)
        t = np.asarray(days_before, dtype=np.float64)[:, None]
        share = (t - lower) / (upper - lower)
        share[:, 0] = np.where(t[:, 0] >= upper[0], 1.0, share[:, 0])  # the horizon's bucket
        clipped: NDArray[np.float64] = np.clip(share, 0.0, 1.0)
        return clipped


@dataclass(frozen=True, slots=True)
class Forecast:
    """Per departure and family: seats booked, and final demand's mean and standard deviation."""

    families: tuple[str, ...]
    booked: NDArray[np.float64]  # (N, F)
    mean: NDArray[np.float64]  # (N, F) final demand: booked + pickup to come
    sd: NDArray[np.float64]  # (N, F)

    @property
    def to_come(self) -> NDArray[np.float64]:
        return self.mean - self.booked


def fit(history: History, *, unconstrained: bool = True) -> PickupModel:
    """Learn pickup curves and seasonal factors from ``history`` (with ``unconstrained`` False,
    from raw bookings: the baseline unconstraining is measured against)."""
    d, f, k = history.bookings.shape
    if d == 0:
        raise ForecastError("the history has no departure")
    weekday_of, month_of = _calendar(history.departures)
    demand = history.bookings
    if unconstrained and history.closed.any():
        # Censoring is judged on deseasonalised values: a busy Friday's closure is not a quiet
        # Tuesday's. Two passes: factors from raw totals, then from unconstrained ones.
        factor = np.ones(d)
        for _ in range(2):
            demand = _unconstrained(history, factor)
            factor = _factors(demand.sum(axis=(1, 2)), weekday_of, month_of)[2]
    weekday, season, factor = _factors(demand.sum(axis=(1, 2)), weekday_of, month_of)
    level = demand / factor[:, None, None]
    return PickupModel(
        families=history.families,
        edges=history.edges,
        mean=level.mean(axis=0),
        variance=level.var(axis=0, ddof=1) if d > 1 else np.zeros((f, k)),
        weekday=weekday,
        season=season,
        departures=d,
        censored_share=float(history.closed.mean()) if history.closed.size else 0.0,
    )


def forecast(
    model: PickupModel,
    departures: NDArray[np.datetime64],
    days_before: NDArray[np.int64],
    booked: NDArray[np.float64],
) -> Forecast:
    """Final demand per family of ``departures`` seen ``days_before`` them with ``booked`` (N, F)."""
    n, f = len(departures), len(model.families)
    booked = np.asarray(booked, dtype=np.float64)
    if booked.shape != (n, f) or len(days_before) != n:
        raise ForecastError(f"booked must be departures × families ({n}, {f})")
    if (np.asarray(days_before) < 0).any():
        raise ForecastError("days before departure must be 0 or more")
    share = model.remaining_share(np.asarray(days_before))  # (N, K)
    factor = model.factor(departures)[:, None]  # (N, 1)
    to_come = factor * (share @ model.mean.T)  # (N, F)
    variance = factor**2 * (share @ model.variance.T)
    return Forecast(model.families, booked, booked + to_come, np.sqrt(variance))


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Forecast error on held-out departures, forecast from each bucket's reading point."""

    departures: int  # held out
    mape: float  # mean absolute percentage error of final bookings, families open throughout
    bias: float  # (Σ forecast − Σ actual) / Σ actual: + over-forecasts
    by_bucket: tuple[tuple[int, float, float], ...]  # (days before, MAPE, bias) per reading point


def accuracy(history: History, holdout: float = 0.2) -> Accuracy:
    """Fit on the earliest departures, forecast the latest ``holdout`` share of them from every
    reading point, and compare with what they booked (families that never closed: a closed one's
    final bookings are not its demand)."""
    order = np.argsort(history.departures)
    cut = len(order) - max(1, round(len(order) * holdout))
    if cut < 2:
        raise ForecastError("too few departures to hold some out")
    model = fit(_subset(history, order[:cut]))
    test = _subset(history, order[cut:])
    open_throughout = np.logical_not(test.closed.any(axis=2))  # (T, F)
    actual = test.bookings.sum(axis=2)
    predicted = [
        forecast(
            model,
            test.departures,
            np.full(len(test.departures), edge),
            test.bookings[:, :, :r].sum(axis=2),  # the buckets before the reading point
        ).mean
        for r, edge in enumerate(history.edges)
    ]
    rows = tuple(
        (edge, *_errors(p, actual, open_throughout))
        for edge, p in zip(history.edges, predicted, strict=True)
    )
    points = len(predicted)
    mape, bias = _errors(
        np.concatenate(predicted),
        np.tile(actual, (points, 1)),
        np.tile(open_throughout, (points, 1)),
    )
    return Accuracy(len(test.departures), mape, bias, rows)


def _errors(
    predicted: NDArray[np.float64], actual: NDArray[np.float64], keep: NDArray[np.bool_]
) -> tuple[float, float]:
    mask = keep & (actual > 0)
    if not mask.any():
        return float("nan"), float("nan")
    mape = float(np.mean(np.abs(predicted[mask] - actual[mask]) / actual[mask]))
    bias = float((predicted[mask].sum() - actual[mask].sum()) / actual[mask].sum())
    return mape, bias


def _unconstrained(history: History, factor: NDArray[np.float64]) -> NDArray[np.float64]:
    d, f, k = history.bookings.shape
    level = (history.bookings / factor[:, None, None]).reshape(d, f * k)
    result = unconstrain(level, history.closed.reshape(d, f * k), np.ones(d))
    return np.asarray(result.values.reshape(d, f, k) * factor[:, None, None], dtype=np.float64)


def _factors(
    totals: NDArray[np.float64], weekday_of: NDArray[np.int64], month_of: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Day-of-week and month factors (shrunk towards 1), and each departure's product of them."""
    overall = totals.mean()
    if overall <= 0:
        return np.ones(7), np.ones(SEASONS), np.ones(len(totals))
    weekday = _shrunk(totals / overall, weekday_of, 7)
    season = _shrunk(totals / overall / weekday[weekday_of], month_of, SEASONS)
    return weekday, season, weekday[weekday_of] * season[month_of]


def _shrunk(ratio: NDArray[np.float64], group: NDArray[np.int64], size: int) -> NDArray[np.float64]:
    sums = np.bincount(group, weights=ratio, minlength=size)
    counts = np.bincount(group, minlength=size)
    return np.asarray((sums + SHRINK) / (counts + SHRINK), dtype=np.float64)


def _calendar(dates: NDArray[np.datetime64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    days = np.asarray(dates, dtype="datetime64[D]")
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    return weekday, month


def _subset(history: History, rows: Sequence[int] | NDArray[np.int64]) -> History:
    return History(
        history.families,
        history.edges,
        history.departures[rows],
        history.bookings[rows],
        history.closed[rows],
    )
