"""Booking histories as the forecast reads them, assembled from bookings however they were made.

A booking says which departure (market, flight, date), cabin and fare family it was for, how many
days before departure it was made, how many seats, and whether the family was closed then. They
come from two sources, and a departure's history from one of them only:

- an **imported** file (the airline's own record, every channel): where a departure has imported
  rows, they are its history;
- the tenant's **stored orders** otherwise (what the engine itself sold).

A market is a route and a cabin, with its **ladder**: the fare families, highest first, the one
an order without a known family counts in (``base``), and the booking periods (days before
departure, descending: bucket k holds (edges[k+1], edges[k]], the first also everything earlier,
the last down to the day of departure). A cabin without a fare family set is one class named after
the cabin, and every booking of the cabin counts in it (``absorbs``); with a set, a booking of a
family the set does not name is left out and counted, so that a run can say so.

:func:`assemble` turns the departed flights' bookings into one :class:`~.forecast.History` per
market, with a digest of what it holds (the forecast's inputs' version); :func:`booked` and
:func:`curve` read one future departure's bookings so far. Plain data in and out.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from numpy.typing import NDArray

from offerengine.revenue.core.forecast import History

IMPORT, ORDERS = "import", "orders"
Market = tuple[str, str]  # ("JFK-LHR", "ECONOMY")
Departure = tuple[str, str, str, date]  # (route, cabin, flight, departure date)


def route_of(origin: str, destination: str) -> str:
    return f"{origin}-{destination}"


@dataclass(frozen=True, slots=True)
class Booking:
    """Seats of one departure's cabin booked ``days_before`` it, in ``family`` (None: unknown)."""

    flight: str  # carrier and number: with the date, names the departure within its market
    departure: date
    route: str
    cabin: str
    family: str | None
    days_before: int
    count: int
    closed: bool = False
    source: str = ORDERS

    @property
    def key(self) -> Departure:
        return (self.route, self.cabin, self.flight, self.departure)


@dataclass(frozen=True, slots=True)
class Ladder:
    """A market's fare families, highest first, and its booking periods."""

    families: tuple[str, ...]
    base: str  # where a booking of no known family counts
    edges: tuple[int, ...]
    absorbs: bool = False  # every family counts in the one class (a cabin with no set)

    def column(self, family: str | None) -> int | None:
        """The family's column, or None for a family this ladder does not sell."""
        if family is None or self.absorbs:
            return self.families.index(self.base)
        try:
            return self.families.index(family)
        except ValueError:
            return None


def bucket(edges: Sequence[int], days_before: int) -> int:
    """The booking period holding a booking made ``days_before`` departure."""
    within = sum(1 for e in edges if e >= days_before)
    return max(within - 1, 0)


@dataclass(frozen=True, slots=True)
class MarketHistory:
    """One market's past departures as the forecast reads them."""

    market: Market
    ladder: Ladder
    history: History
    digest: str  # SHA-256 of the families, periods, dates, bookings and closures
    left_out: Mapping[str, int] = field(default_factory=dict)  # family → seats not counted


def assemble(
    bookings: Iterable[Booking],
    ladder_of: Callable[[Market], Ladder],
    *,
    before: date,
    filled: Mapping[Departure, int] | None = None,
) -> dict[Market, MarketHistory]:
    """The history of every market from the bookings of departures before ``before``;
    ``filled`` gives, per departure whose cabin sold out, the days before departure it filled
    (every family is closed from that booking period on)."""
    by_departure: dict[Departure, list[Booking]] = defaultdict(list)
    for b in bookings:
        if b.departure < before:
            by_departure[b.key].append(b)
    markets: dict[Market, list[tuple[Departure, list[Booking]]]] = defaultdict(list)
    for key, rows in by_departure.items():
        if any(r.source == IMPORT for r in rows):
            rows = [r for r in rows if r.source == IMPORT]
        markets[(key[0], key[1])].append((key, rows))
    out: dict[Market, MarketHistory] = {}
    for market in sorted(markets):
        departures = sorted(markets[market], key=lambda item: (item[0][3], item[0][2]))
        out[market] = _market(market, ladder_of(market), departures, filled or {})
    return out


def _market(
    market: Market,
    ladder: Ladder,
    departures: Sequence[tuple[Departure, list[Booking]]],
    filled: Mapping[Departure, int],
) -> MarketHistory:
    d, f, k = len(departures), len(ladder.families), len(ladder.edges)
    counts = np.zeros((d, f, k))
    closed = np.zeros((d, f, k), dtype=bool)
    left_out: dict[str, int] = defaultdict(int)
    for i, (key, rows) in enumerate(departures):
        for row in rows:
            column = ladder.column(row.family)
            if column is None:
                left_out[str(row.family)] += row.count
                continue
            period = bucket(ladder.edges, row.days_before)
            counts[i, column, period] += row.count
            closed[i, column, period] |= row.closed
        if key in filled:
            closed[i, :, bucket(ladder.edges, filled[key]) :] = True
    dates = np.array([key[3] for key, _ in departures], dtype="datetime64[D]")
    history = History(ladder.families, ladder.edges, dates, counts, closed)
    return MarketHistory(market, ladder, history, digest(history), dict(left_out))


def digest(history: History) -> str:
    """What a history holds, as a hash: the same bookings, the same digest."""
    h = hashlib.sha256()
    h.update("\x1f".join(history.families).encode())
    h.update(np.asarray(history.edges, dtype=np.int64).tobytes())
    h.update(np.asarray(history.departures, dtype="datetime64[D]").astype(np.int64).tobytes())
    h.update(np.ascontiguousarray(history.bookings, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(history.closed, dtype=bool).tobytes())
    return h.hexdigest()


def booked(bookings: Iterable[Booking], ladder: Ladder) -> NDArray[np.float64]:
    """Seats booked so far per family of the ladder (bookings of other families left out)."""
    out = np.zeros(len(ladder.families))
    for b in bookings:
        column = ladder.column(b.family)
        if column is not None:
            out[column] += b.count
    return out


@dataclass(frozen=True, slots=True)
class Period:
    """Bookings made in one booking period, by family."""

    days_before: int  # from (the horizon's period: and earlier)
    until: int  # down to, inclusive
    by_family: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_family.values())


def curve(bookings: Iterable[Booking], ladder: Ladder) -> list[Period]:
    """A departure's booking curve so far: seats per booking period and family."""
    edges = ladder.edges
    periods = [
        Period(
            edge, edges[k + 1] + 1 if k + 1 < len(edges) else 0, dict.fromkeys(ladder.families, 0)
        )
        for k, edge in enumerate(edges)
    ]
    for b in bookings:
        column = ladder.column(b.family)
        if column is not None:
            periods[bucket(edges, b.days_before)].by_family[ladder.families[column]] += b.count
    return periods
