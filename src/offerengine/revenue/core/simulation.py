"""A booking simulator: one cabin, its fare classes, and customers arriving over the booking
window, to see what a control policy earns.

Customers of each segment arrive per booking period as a Poisson process (business late, leisure
early, as a market's are) with a willingness to pay drawn from the segment's log-normal; each buys
the cheapest class that is open, that her segment accepts (fences: a business traveller does not
buy a non-refundable promotion) and that is still on sale (advance purchase), if she is willing to
pay its fare; else she leaves. Policies:

- ``fcfs``: every class stays open until the cabin is full (first come, first served).
- ``emsr-b``: at the start of every booking period the demand still to come per class is forecast
  by the pickup model fitted on past departures (:mod:`.forecast`, unconstrained), EMSR-b sets the
  protection levels on the seats left (:mod:`.nesting`), and a class sells while the seats left
  exceed the protection of the classes above it.
- ``emsr-b+prices``: EMSR-b's limits, and every class's fare times a price point the learned-price
  policy chooses at the start of each booking period (:mod:`.pricepoints`: a bandit that
  maximises revenue per customer shown the fares, within the points' maximum step). It learns on
  the past departures first (exploring, every choice logged with its propensity) and goes on
  learning on the simulated ones; its logs give the off-policy estimate of the learned policy
  against the rules' prices (:class:`Comparison`'s ``prices``).

The history the forecast learns from is itself simulated, under first come, first served with the
same capacity: the cheap classes' bookings there are cut short by full cabins, which is what
unconstraining is for. Every figure comes from seeded draws, so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from offerengine.learning import bandit
from offerengine.revenue.core import forecast as fc
from offerengine.revenue.core import pricepoints as pp
from offerengine.revenue.core.nesting import FareClass, emsr_b


@dataclass(frozen=True, slots=True)
class Segment:
    """Customers alike: arrivals per booking period, and willingness to pay (log-normal)."""

    name: str
    arrivals: tuple[float, ...]  # mean arrivals per booking period (one per edge)
    median_wtp: float
    spread: float  # the log-normal's sigma
    accepts: tuple[str, ...] | None = None  # the classes this segment buys; None: every one


@dataclass(frozen=True, slots=True)
class Fare:
    """A fare class: its fare, and the days before departure after which it is no longer sold."""

    code: str
    fare: Decimal
    advance: int = 0


@dataclass(frozen=True, slots=True)
class Scenario:
    """A cabin, its fare classes (code → fare), the booking periods, and who comes."""

    capacity: int
    fares: tuple[Fare, ...]
    edges: tuple[int, ...]  # days before departure, descending (as in forecast.History)
    segments: tuple[Segment, ...]
    first_departure: str = "2026-01-01"

    def __post_init__(self) -> None:
        if self.capacity <= 0:
            raise ValueError("capacity must be positive")
        if not self.fares or len({f.code for f in self.fares}) != len(self.fares):
            raise ValueError("fare classes must be given, with unique codes")
        for s in self.segments:
            if len(s.arrivals) != len(self.edges):
                raise ValueError(f"segment {s.name}: one arrival rate per booking period")

    @property
    def classes(self) -> tuple[Fare, ...]:
        """Highest fare first."""
        return tuple(sorted(self.fares, key=lambda f: (-f.fare, f.code)))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a policy earned over the simulated departures (means per departure)."""

    policy: str
    departures: int
    revenue: float
    load_factor: float
    sold_by_class: dict[str, float]
    revenue_sd: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """Every policy's outcome, and the off-policy report of the learned prices from their logs."""

    outcomes: dict[str, Outcome]
    prices: pp.PriceReport
    points_served: dict[str, float]  # multiplier → share of the simulated periods it was served


def simulate(scenario: Scenario, *, departures: int, history: int, seed: int) -> dict[str, Outcome]:
    """Every policy's outcome (see :func:`compare`)."""
    return compare(scenario, departures=departures, history=history, seed=seed).outcomes


def compare(
    scenario: Scenario,
    *,
    departures: int,
    history: int,
    seed: int,
    points: pp.PricePoints | None = None,
) -> Comparison:
    """Every policy on the same ``departures`` customer streams (common random numbers), the
    forecast learnt from ``history`` past departures under first come, first served, the learned
    prices (``points``, default :data:`DEMO_POINTS`) trained on the same past departures."""
    rng = np.random.default_rng(seed)
    past = [_customers(scenario, rng) for _ in range(history)]
    model = fc.fit(_history(scenario, past))
    future = [_customers(scenario, rng) for _ in range(departures)]
    pricing = _Pricing(points or DEMO_POINTS, len(scenario.edges), np.random.default_rng(seed + 1))
    for i, customers in enumerate(past):
        _emsr(scenario, model, i - len(past), customers, pricing)
    pricing.served.clear()
    priced = [_emsr(scenario, model, i, c, pricing) for i, c in enumerate(future)]
    served = sum(pricing.served.values())
    return Comparison(
        {
            "fcfs": _outcome(scenario, "fcfs", [_fcfs(scenario, c) for c in future]),
            "emsr-b": _outcome(
                scenario, "emsr-b", [_emsr(scenario, model, i, c) for i, c in enumerate(future)]
            ),
            "emsr-b+prices": _outcome(scenario, "emsr-b+prices", priced),
        },
        pp.evaluate(pricing.logs, pricing.learner, seed=seed),
        {k: n / served for k, n in sorted(pricing.served.items(), key=lambda kv: Decimal(kv[0]))},
    )


class _Pricing:
    """The learned-price policy while it simulates: its learner, its logs, what it served."""

    def __init__(self, points: pp.PricePoints, periods: int, rng: np.random.Generator) -> None:
        self.points = points
        self.periods = periods
        self.rng = rng
        self.learner: bandit.LinearBandit = pp.new_bandit(points, periods)
        self.logs: list[pp.LoggedPrice] = []
        self.served: dict[str, int] = {}


# A departure's customers: per booking period, (segment index, willingness to pay) in arrival order.
Customers = list[list[tuple[int, float]]]


def _customers(scenario: Scenario, rng: np.random.Generator) -> Customers:
    periods: Customers = []
    for k in range(len(scenario.edges)):
        period = [
            (i, float(wtp))
            for i, s in enumerate(scenario.segments)
            for wtp in rng.lognormal(np.log(s.median_wtp), s.spread, rng.poisson(s.arrivals[k]))
        ]
        order = rng.permutation(len(period))
        periods.append([period[i] for i in order])
    return periods


Sale = tuple[int, int, float]  # (booking period, class index, price point)


def _buy(
    scenario: Scenario,
    period: int,
    customer: tuple[int, float],
    open_classes: Sequence[bool],
    point: float = 1.0,
) -> int | None:
    """The cheapest class the customer may and will buy at its fare × ``point``, or None."""
    segment, wtp = scenario.segments[customer[0]], customer[1]
    last_day = scenario.edges[period + 1] if period + 1 < len(scenario.edges) else 0
    classes = scenario.classes
    for j in range(len(classes) - 1, -1, -1):
        fare = classes[j]
        if (
            open_classes[j]
            and fare.advance <= last_day
            and (segment.accepts is None or fare.code in segment.accepts)
            and float(fare.fare) * point <= wtp
        ):
            return j
    return None


def _fcfs(scenario: Scenario, customers: Customers) -> list[Sale]:
    sales: list[Sale] = []
    every = [True] * len(scenario.classes)
    for k, period in enumerate(customers):
        for customer in period:
            if len(sales) >= scenario.capacity:
                return sales
            j = _buy(scenario, k, customer, every)
            if j is not None:
                sales.append((k, j, 1.0))
    return sales


def _emsr(
    scenario: Scenario,
    model: fc.PickupModel,
    index: int,
    customers: Customers,
    pricing: _Pricing | None = None,
) -> list[Sale]:
    """Limits set at each period's start from the forecast of what is still to come; within the
    period class j sells while the seats sold since then stay under its nested limit b_j. With
    ``pricing``, the period's fares are times the point it chooses, and it learns what the
    period earned per customer shown (a multiple of the highest fare)."""
    sales: list[Sale] = []
    current: Decimal | None = None
    top = float(scenario.classes[0].fare)
    for k, period in enumerate(customers):
        left = scenario.capacity - len(sales)
        if left <= 0:
            break
        limits = _limits(scenario, model, index, k, sales, left)
        point, x, choice = 1.0, [0.0], None
        candidates: tuple[Decimal, ...] = (pp.RULES,)
        if pricing is not None:
            x = pp.context(k, pricing.periods, len(sales) / scenario.capacity)
            candidates = pp.allowed(pricing.points, price=Decimal(1), current=current)
            choice = pp.choose(pricing.learner, candidates, x, pricing.rng)
            current, point = choice.multiplier, float(choice.multiplier)
        sold_here = 0
        earned = 0.0
        for customer in period:
            if sold_here >= left:
                break
            bought = _buy(scenario, k, customer, [sold_here < b for b in limits], point)
            if bought is not None:
                sales.append((k, bought, point))
                sold_here += 1
                earned += float(scenario.classes[bought].fare) * point
        if pricing is not None and choice is not None and period:
            reward = earned / len(period) / top
            pp.learn(pricing.learner, choice.multiplier, x, reward)
            pricing.logs.append(
                pp.LoggedPrice(tuple(x), candidates, choice.multiplier, choice.propensity, reward)
            )
            served = pp.key(choice.multiplier)
            pricing.served[served] = pricing.served.get(served, 0) + 1
    return sales


def _limits(
    scenario: Scenario,
    model: fc.PickupModel,
    index: int,
    period: int,
    sales: list[Sale],
    left: int,
) -> tuple[int, ...]:
    """EMSR-b's nested limits on the ``left`` seats, from the demand forecast to come."""
    codes = [fare.code for fare in scenario.classes]
    column = [model.families.index(code) for code in codes]
    booked = np.zeros((1, len(codes)))
    for _, j, _ in sales:
        booked[0, column[j]] += 1
    day = np.datetime64(scenario.first_departure, "D") + np.array([index])
    ahead = fc.forecast(model, day, np.array([scenario.edges[period]]), booked)
    nesting = emsr_b(
        [
            FareClass(f.code, f.fare, float(ahead.to_come[0, c]), float(ahead.sd[0, c]))
            for f, c in zip(scenario.classes, column, strict=True)
        ],
        left,
    )
    return nesting.limits


def _history(scenario: Scenario, past: list[Customers]) -> fc.History:
    """Past departures sold first come, first served: bookings per class and period, a class
    marked closed from the period its cabin filled."""
    classes = scenario.classes
    d, f, k = len(past), len(classes), len(scenario.edges)
    bookings = np.zeros((d, f, k))
    closed = np.zeros((d, f, k), dtype=bool)
    for i, customers in enumerate(past):
        sales = _fcfs(scenario, customers)
        for period, j, _ in sales:
            bookings[i, j, period] += 1
        if len(sales) >= scenario.capacity:
            closed[i, :, sales[-1][0] :] = True
    dates = np.datetime64(scenario.first_departure, "D") - np.arange(d, 0, -1)
    return fc.History(tuple(f.code for f in classes), scenario.edges, dates, bookings, closed)


def _outcome(scenario: Scenario, policy: str, runs: list[list[Sale]]) -> Outcome:
    classes = scenario.classes
    fares = [float(f.fare) for f in classes]
    revenue = np.array([sum(fares[j] * point for _, j, point in sales) for sales in runs])
    sold = {
        code: float(np.mean([sum(1 for _, j, _ in sales if j == i) for sales in runs]))
        for i, code in enumerate(f.code for f in classes)
    }
    load = float(np.mean([len(sales) for sales in runs])) / scenario.capacity
    return Outcome(policy, len(runs), float(revenue.mean()), load, sold, float(revenue.std()))


# A demonstration route: 150 seats, four fare classes fenced by advance purchase and by who buys
# them, leisure customers early and price-sensitive, business customers late and not.
DEMO = Scenario(
    capacity=150,
    fares=(
        Fare("FLEX", Decimal("420")),
        Fare("STANDARD", Decimal("260"), advance=3),
        Fare("SAVER", Decimal("180"), advance=14),
        Fare("PROMO", Decimal("110"), advance=21),
    ),
    edges=(90, 60, 30, 21, 14, 7, 3, 0),
    segments=(
        Segment("leisure", (45, 55, 40, 20, 10, 5, 2, 1), 170, 0.4, ("STANDARD", "SAVER", "PROMO")),
        Segment("business", (2, 3, 6, 10, 15, 20, 15, 6), 450, 0.3, ("FLEX", "STANDARD")),
    ),
)

# The demonstration's price points: the rules' fares up to 30 % dearer or 10 % cheaper, a step of
# at most 20 % between two booking periods, exploring 30 % of the time once it has learnt.
DEMO_POINTS = pp.PricePoints(
    tuple(Decimal(m) for m in ("0.9", "1", "1.1", "1.2", "1.3")), Decimal("0.2"), epsilon=0.3
)
