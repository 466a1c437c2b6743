"""Revenue management: how fast demand is forecast and booking limits recomputed.

    .venv/bin/python bench/revenue.py [--flights 1000] [--families 5] [--buckets 60] [--rounds 3]

A synthetic history of --flights past departures (--families fare families, --buckets booking
periods, the cheapest family limited so that it closes on most departures) is generated; then,
on one core, the median of --rounds: fitting the pickup model (unconstraining included), and
forecasting --flights future departures from each one's bookings so far; EMSR-b limits and a
bid price for one flight's families (the work a forecast does per cabin); and a flight's limits
and forecast facts worked out again after a booking, from the controls its forecast left (the
work a booking triggers at run time: no forecast again).
"""

from __future__ import annotations

import argparse
import statistics
import time
from decimal import Decimal

import numpy as np
from _http import machine

from offerengine.revenue.core import forecast as fc
from offerengine.revenue.core.controls import CabinControls
from offerengine.revenue.core.nesting import FareClass, emsr_b
from offerengine.revenue.core.synthetic import Market, history


def market(families: int, buckets: int) -> Market:
    edges = tuple(int(e) for e in np.linspace(buckets * 3, 0, buckets).round()[::-1][::-1])
    edges = tuple(sorted(set(edges), reverse=True))
    rng = np.random.default_rng(1)
    curve = rng.uniform(0.1, 2.0, size=(families, len(edges)))
    limits = tuple([1e9] * (families - 1) + [float(curve[-1].sum() * 0.7)])
    weekday = np.array([1.1, 0.8, 0.8, 0.9, 1.3, 1.2, 0.9])
    names = tuple(f"F{i}" for i in range(families))
    return Market(names, edges, curve, weekday, limits)


def timed(rounds: int, work: object) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flights", type=int, default=1000)
    parser.add_argument("--families", type=int, default=5)
    parser.add_argument("--buckets", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    m = market(args.families, args.buckets)
    past = history(m, "2024-01-01", args.flights, seed=2)
    print(
        f"history: {args.flights:,} departures x {args.families} families x "
        f"{len(m.edges)} buckets, {past.closed.mean():.0%} of cells closed"
    )
    fitted = timed(args.rounds, lambda: fc.fit(past))
    model = fc.fit(past)
    rng = np.random.default_rng(3)
    future = np.datetime64("2027-01-01", "D") + np.arange(args.flights)
    days = rng.integers(0, m.edges[0], size=args.flights)
    booked = rng.integers(0, 20, size=(args.flights, args.families)).astype(float)
    forecasted = timed(args.rounds, lambda: fc.forecast(model, future, days, booked))
    print(f"  fit (unconstraining included): {fitted:.2f} s")
    print(f"  forecast {args.flights:,} future flights: {forecasted * 1000:.1f} ms")
    print(f"  total: {fitted + forecasted:.2f} s (goal: 10 s on one core)")
    result = fc.forecast(model, future[:1], days[:1], booked[:1])
    classes = [
        FareClass(f, Decimal(100 * (args.families - i)), float(mu), float(sd))
        for i, (f, mu, sd) in enumerate(
            zip(model.families, result.to_come[0], result.sd[0], strict=True)
        )
    ]
    n = 10_000
    began = time.perf_counter()
    for _ in range(n):
        nesting = emsr_b(classes, 180)
        nesting.bid_price(120)
    per = (time.perf_counter() - began) / n
    print(f"  limits and bid price of one flight ({args.families} families): {per * 1e6:.0f} µs")
    cabins = []  # a flight of four cabins, each with a forecast
    for capacity in (180, 40, 24, 8):
        nesting = emsr_b(classes, capacity)
        cabins.append(
            CabinControls.of(
                capacity=capacity,
                seats_left=capacity,
                families=[
                    (c.code, Decimal(args.families - i), nesting.limit(c.code), c.mean)
                    for i, c in enumerate(classes)
                ],
                bid_price=nesting.bid_price(capacity, Decimal("0.01")),
                currency="USD",
            )
        )
    began = time.perf_counter()
    for i in range(n):
        taken = i % 8  # seats sold and held after the booking
        for controls in cabins:
            sellable = controls.capacity - taken
            controls.limits(sellable)
            controls.facts(capacity=controls.capacity, taken=taken, sellable=sellable)
    per = (time.perf_counter() - began) / n
    print(
        f"  a flight's limits and forecast facts after a booking (4 cabins, {args.families} "
        f"families, from its controls): {per * 1e6:.1f} µs (goal: 1 ms)"
    )


if __name__ == "__main__":
    main()
