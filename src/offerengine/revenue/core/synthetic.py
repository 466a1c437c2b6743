"""Booking histories with known demand: for tests that a forecast recovers it, for the demo, and
for benchmarks of the forecaster at an airline's scale.

Demand for each departure, family and booking period is Poisson with mean ``curve[f, k]`` times
the departure's day-of-week factor; a family with a booking limit sells until its bookings reach
it and is closed from then on (the period it closed in, and every later one, are marked closed:
their bookings fall short of demand).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from offerengine.revenue.core.forecast import History


@dataclass(frozen=True, slots=True)
class Market:
    """What the demand truly is: per family and booking period, and by day of week."""

    families: tuple[str, ...]
    edges: tuple[int, ...]
    curve: NDArray[np.float64]  # (F, K) mean demand per period on a day of factor 1
    weekday: NDArray[np.float64]  # (7,) Monday first
    limits: tuple[float, ...] | None = None  # per family; None: never closed

    def expected(self, dates: NDArray[np.datetime64]) -> NDArray[np.float64]:
        """(N, F): the true mean final demand of each family on ``dates``."""
        weekday = (np.asarray(dates, dtype="datetime64[D]").astype(np.int64) + 3) % 7
        mean: NDArray[np.float64] = self.weekday[weekday][:, None] * self.curve.sum(axis=1)
        return mean


def history(market: Market, first: str, departures: int, seed: int) -> History:
    """``departures`` daily departures from the date ``first``, drawn from ``market``."""
    rng = np.random.default_rng(seed)
    dates = np.datetime64(first, "D") + np.arange(departures)
    weekday = (dates.astype(np.int64) + 3) % 7
    demand = rng.poisson(market.weekday[weekday][:, None, None] * market.curve[None, :, :])
    bookings = demand.astype(np.float64)
    closed = np.zeros(bookings.shape, dtype=bool)
    if market.limits is not None:
        limit = np.asarray(market.limits, dtype=np.float64)[None, :, None]
        before = np.cumsum(bookings, axis=2) - bookings  # sold before each period
        room = np.maximum(limit - before, 0.0)
        bookings = np.minimum(bookings, room)
        reached = np.cumsum(bookings, axis=2) >= limit
        # Closed from the period in which the limit was reached (demand there may have been cut).
        closed = np.cumsum(reached, axis=2) > 0
    return History(market.families, market.edges, dates, bookings, closed)
