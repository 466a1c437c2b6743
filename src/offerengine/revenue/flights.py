"""A flight's revenue as the admin API shows it: per cabin the stored forecast (families' demand
to come, protection, nested limits, bid price, the inputs' version and accuracy), or why there is
none, and the booking curve so far; and forecasting one flight's markets on demand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.inventory.models import Flight
from offerengine.revenue import forecasting, history
from offerengine.revenue import service as families
from offerengine.revenue.core.history import curve, route_of
from offerengine.revenue.models import RevenueForecast, RevenueForecastFamily
from offerengine.revenue.schemas import (
    AccuracyRead,
    CabinForecastRead,
    CabinRevenueRead,
    CurvePeriodRead,
    FamilyForecastRead,
    FlightRevenueRead,
    ForecastRunRead,
)

NONE_YET = (
    "no forecast has been made for this cabin yet: run `offerengine forecast` or POST "
    "…/revenue/forecast (its market needs at least {n} past departures, from orders or an "
    "imported history)"
)
LEFT = "the flight has left: forecasts are made for flights yet to leave"


async def flight_revenue(
    session: AsyncSession, flight: Flight, *, today: date
) -> FlightRevenueRead:
    """The flight's stored forecasts per cabin and its booking curve so far."""
    route = route_of(flight.origin, flight.destination)
    stored = (
        await session.scalars(
            sa.select(RevenueForecast).where(RevenueForecast.flight_id == flight.id)
        )
    ).all()
    by_cabin = {f.cabin: f for f in stored}
    rows = (
        await session.scalars(
            sa.select(RevenueForecastFamily)
            .where(RevenueForecastFamily.forecast_id.in_([f.id for f in stored]))
            .order_by(RevenueForecastFamily.position)
        )
    ).all()
    ladders = families.Ladders(await families.list_sets(session, tenant_id=flight.tenant_id))
    made = await history.order_bookings(session, flight.tenant_id, {flight.id: flight})
    cabins = []
    for cabin, capacity in flight.cabins.items():
        bookings = [b for b in made.get(flight.id, ()) if b.cabin == cabin]
        periods = curve(bookings, ladders.ladder((route, cabin)))
        forecast = by_cabin.get(cabin)
        cabins.append(
            CabinRevenueRead(
                cabin=cabin,
                capacity=int(capacity),
                booked=sum(b.count for b in bookings),
                forecast=None
                if forecast is None
                else _forecast(forecast, [r for r in rows if r.forecast_id == forecast.id]),
                why=None if forecast is not None else _why(flight, today),
                booking_curve=[
                    CurvePeriodRead(
                        days_before=p.days_before,
                        until=p.until,
                        bookings=p.total,
                        by_family=p.by_family,
                    )
                    for p in periods
                ],
            )
        )
    return FlightRevenueRead(
        flight_id=flight.id,
        flight=history.flight_label(flight),
        route=route,
        departure_date=flight.departure_date,
        cabins=cabins,
    )


def _why(flight: Flight, today: date) -> str:
    if flight.departure_date < today:
        return LEFT
    if flight.status != "scheduled":
        return f"the flight is {flight.status}: only scheduled flights are forecast"
    return NONE_YET.format(n=forecasting.MIN_DEPARTURES)


def _forecast(head: RevenueForecast, rows: Sequence[RevenueForecastFamily]) -> CabinForecastRead:
    currency = head.currency

    def amount(minor: int | None) -> str | None:
        return None if minor is None or currency is None else money.format_amount(minor, currency)

    return CabinForecastRead(
        fitted_at=head.fitted_at,
        days_before=head.days_before,
        seats_left=head.seats_left,
        bid_price=amount(head.bid_price_minor),
        currency=currency,
        inputs_version=head.inputs_version,
        fare_family_set=head.config_id,
        fare_family_set_version=head.config_version,
        history_departures=head.history_departures,
        accuracy=None
        if head.held_out is None
        else AccuracyRead(held_out=head.held_out, mape=head.mape, bias=head.bias),
        families=[
            FamilyForecastRead(
                code=r.code,
                name=r.name,
                multiplier=Decimal(money.plain(r.multiplier)),
                fare=amount(r.fare_minor),
                booked=r.booked,
                demand_mean=r.demand_mean,
                demand_sd=r.demand_sd,
                protection=r.protection,
                booking_limit=r.booking_limit,
                open=r.booking_limit > 0,
            )
            for r in rows
        ],
    )


async def forecast_flight(
    session: AsyncSession, flight: Flight, *, now: datetime
) -> FlightRevenueRead:
    """Forecast the markets of the flight's route (every flight of it yet to leave) now."""
    done = await forecasting.run(
        session,
        tenant_id=flight.tenant_id,
        now=now,
        route=route_of(flight.origin, flight.destination),
    )
    await session.flush()
    read = await flight_revenue(session, flight, today=now.date())
    return read.model_copy(update={"run": run_read(done)})


def run_read(done: forecasting.Run) -> ForecastRunRead:
    return ForecastRunRead(
        markets=done.markets,
        flights=done.flights,
        cabins=done.cabins,
        skipped=dict(done.skipped),
        left_out=dict(done.left_out),
    )
