"""Forecast runs: fit each market's pickup model on its history, forecast the demand still to
come on every flight yet to leave, set EMSR-b limits and the bid price on each cabin's seats
left, and store them; and a flight's revenue as the API shows it.

A run, for a tenant (or one route of it):

1. each market's ladder (:class:`~offerengine.revenue.service.Ladders`) and history
   (:func:`~offerengine.revenue.core.history.assemble`, from :func:`.history.load`);
2. per market with at least ``MIN_DEPARTURES`` past departures: the pickup model
   (:func:`~offerengine.revenue.core.forecast.fit`, unconstrained) and its error on held-out
   departures (:func:`~offerengine.revenue.core.forecast.accuracy`);
3. its flights yet to leave, forecast together from their days before departure and seats booked
   per family (confirmed orders), and each cabin's plan
   (:func:`~offerengine.revenue.core.plan.plan`) on its seats left (capacity less sold and held);
4. each cabin's forecast replaces the one stored before, with the inputs' version: a SHA-256 of
   the market's history and the fare family set's id and version.

Families' fares are the cabin's FLIGHT product price (its base price, in its currency) times their
multipliers; a cabin with no such product gets limits from the multipliers alone and no bid price.
The caller's unit of work commits.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.catalog.models import Product
from offerengine.inventory.models import Flight, InventoryBucket
from offerengine.revenue import history
from offerengine.revenue import service as families
from offerengine.revenue.core import forecast as fc
from offerengine.revenue.core.history import Market, MarketHistory, assemble, booked, route_of
from offerengine.revenue.core.plan import CabinPlan, plan
from offerengine.revenue.models import FareFamilySet, RevenueForecast, RevenueForecastFamily

MIN_DEPARTURES = 2  # past departures a market needs before it is forecast
Progress = Callable[[int, int, str], None]  # (markets done, markets, the one being done)


@dataclass
class Run:
    """What a run did: markets fitted, cabins forecast, and why others were not."""

    markets: int = 0
    flights: int = 0
    cabins: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason → cabins
    left_out: Counter[str] = field(default_factory=Counter)  # family → seats no set names


@dataclass(frozen=True, slots=True)
class CabinFare:
    price: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Fitted:
    """A market's model, its accuracy and the inputs' version."""

    model: fc.PickupModel
    accuracy: fc.Accuracy | None
    inputs_version: str
    config: tuple[uuid.UUID, int] | None


async def run(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    now: datetime,
    route: str | None = None,
    progress: Progress | None = None,
) -> Run:
    """Forecast every flight yet to leave of the tenant (of ``route``, if given) and store it."""
    today = now.date()
    ladders = families.Ladders(await families.list_sets(session, tenant_id=tenant_id))
    loaded = await history.load(session, tenant_id, today=today, route=route)
    markets = assemble(loaded.past, ladders.ladder, before=today, filled=loaded.filled)
    fares = await cabin_fares(session, tenant_id)
    taken = await seats_taken(session, list(loaded.flights))
    targets: dict[Market, list[Flight]] = defaultdict(list)
    for flight in sorted(loaded.flights.values(), key=lambda f: (f.departure_date, f.id)):
        for cabin in flight.cabins:
            targets[(route_of(flight.origin, flight.destination), cabin)].append(flight)
    done = Run()
    for market_history in markets.values():
        done.left_out.update(market_history.left_out)
    order = sorted(targets)
    for i, market in enumerate(order):
        if progress is not None:
            progress(i, len(order), " ".join(market))
        found = markets.get(market)
        flights = targets[market]
        if found is None or len(found.history.departures) < MIN_DEPARTURES:
            done.skipped[f"fewer than {MIN_DEPARTURES} past departures"] += len(flights)
            continue
        fitted = fit(found, ladders.set_for(market))
        plans = _plans(market, fitted, flights, loaded, ladders, fares, taken, today)
        await _store(session, tenant_id, market, fitted, found, plans, now)
        done.markets += 1
        done.cabins += len(flights)
    done.flights = len({f.id for flights in targets.values() for f in flights})
    if progress is not None:
        progress(len(order), len(order), "")
    return done


def fit(found: MarketHistory, config: FareFamilySet | None) -> Fitted:
    """A market's model, its held-out error (None with too few departures to hold some out)."""
    model = fc.fit(found.history)
    try:
        accuracy: fc.Accuracy | None = fc.accuracy(found.history)
    except fc.ForecastError:
        accuracy = None
    key = None if config is None else (config.id, int(config.version))
    stamp = "cabin" if key is None else f"{key[0]}:{key[1]}"
    inputs = hashlib.sha256(f"{found.digest}\n{stamp}".encode()).hexdigest()
    return Fitted(model, accuracy, inputs, key)


@dataclass(frozen=True, slots=True)
class CabinForecast:
    flight: Flight
    cabin: str
    capacity: int
    days_before: int
    plan: CabinPlan
    names: tuple[str, ...]
    multipliers: tuple[Decimal, ...]
    currency: str | None


def _plans(
    market: Market,
    fitted: Fitted,
    flights: Sequence[Flight],
    loaded: history.Loaded,
    ladders: families.Ladders,
    fares: dict[str, CabinFare],
    taken: dict[tuple[uuid.UUID, str], int],
    today: date,
) -> list[CabinForecast]:
    cabin = market[1]
    ladder = ladders.ladder(market)
    listed = ladders.multipliers(market)
    multipliers = tuple(Decimal(str(m)) for _, _, m in listed)
    fare = fares.get(cabin)
    if fare is None:
        amounts, quantum, currency = list(multipliers), None, None
    else:
        rounded = money.quantizer(fare.currency)
        amounts = [rounded(fare.price * m) for m in multipliers]
        quantum, currency = money.unit(fare.currency), fare.currency
    seen = [[b for b in loaded.future.get(f.id, ()) if b.cabin == cabin] for f in flights]
    days = np.array([max((f.departure_date - today).days, 0) for f in flights], dtype=np.int64)
    got = np.array([booked(b, ladder) for b in seen]).reshape(len(flights), len(ladder.families))
    dates = np.array([f.departure_date for f in flights], dtype="datetime64[D]")
    ahead = fc.forecast(fitted.model, dates, days, got)
    out = []
    for n, flight in enumerate(flights):
        capacity = int(flight.cabins[cabin])
        used = taken.get((flight.id, cabin), int(got[n].sum()))
        cabin_plan = plan(
            ladder.families,
            amounts,
            got[n],
            ahead.to_come[n],
            ahead.sd[n],
            capacity - used,
            quantum,
        )
        names = tuple(name for _, name, _ in listed)
        out.append(
            CabinForecast(
                flight, cabin, capacity, int(days[n]), cabin_plan, names, multipliers, currency
            )
        )
    return out


async def _store(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    market: Market,
    fitted: Fitted,
    found: MarketHistory,
    plans: Sequence[CabinForecast],
    now: datetime,
) -> None:
    """Replace the stored forecasts of ``plans``' cabins."""
    ids = [p.flight.id for p in plans]
    await session.execute(
        sa.delete(RevenueForecast).where(
            RevenueForecast.flight_id.in_(ids), RevenueForecast.cabin == market[1]
        )
    )
    accuracy = fitted.accuracy
    heads, rows = [], []
    for p in plans:
        forecast_id = uuid.uuid4()
        bid = p.plan.bid_price
        heads.append(
            {
                "id": forecast_id,
                "tenant_id": tenant_id,
                "flight_id": p.flight.id,
                "cabin": p.cabin,
                "capacity": p.capacity,
                "seats_left": p.plan.seats_left,
                "days_before": p.days_before,
                "bid_price_minor": None
                if bid is None or p.currency is None
                else money.to_minor(bid, p.currency),
                "currency": p.currency,
                "inputs_version": fitted.inputs_version,
                "config_id": None if fitted.config is None else fitted.config[0],
                "config_version": None if fitted.config is None else fitted.config[1],
                "history_departures": len(found.history.departures),
                "held_out": None if accuracy is None else accuracy.departures,
                "mape": None if accuracy is None else _finite(accuracy.mape),
                "bias": None if accuracy is None else _finite(accuracy.bias),
                "fitted_at": now,
            }
        )
        for position, f in enumerate(p.plan.families):
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "forecast_id": forecast_id,
                    "position": position,
                    "code": f.code,
                    "name": p.names[position],
                    "multiplier": p.multipliers[position],
                    "fare_minor": None
                    if p.currency is None
                    else money.to_minor(f.fare, p.currency),
                    "booked": f.booked,
                    "demand_mean": round(f.mean, 4),
                    "demand_sd": round(f.sd, 4),
                    "protection": round(f.protection, 4),
                    "booking_limit": f.limit,
                }
            )
    if heads:
        await session.execute(sa.insert(RevenueForecast), heads)
        await session.execute(sa.insert(RevenueForecastFamily), rows)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


async def cabin_fares(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, CabinFare]:
    """Each cabin's fare: its active FLIGHT product's base price (the first by code)."""
    rows = await session.scalars(
        sa.select(Product)
        .where(
            Product.tenant_id == tenant_id,
            Product.product_type == "FLIGHT",
            Product.is_active.is_(True),
            Product.category.is_not(None),
        )
        .order_by(Product.product_code)
    )
    out: dict[str, CabinFare] = {}
    for p in rows:
        if p.category is not None and p.category not in out:
            price = money.from_minor(p.base_price_minor, p.currency)
            out[p.category] = CabinFare(price, p.currency)
    return out


async def seats_taken(
    session: AsyncSession, flight_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], int]:
    """Seats sold or held per flight and cabin (where counters exist)."""
    if not flight_ids:
        return {}
    rows = await session.execute(
        sa.select(
            InventoryBucket.flight_id,
            InventoryBucket.resource,
            InventoryBucket.sold + InventoryBucket.held,
        ).where(
            InventoryBucket.flight_id.in_(list(flight_ids)), InventoryBucket.resource_type == "SEAT"
        )
    )
    return {(flight_id, cabin): int(n) for flight_id, cabin, n in rows if flight_id is not None}
