"""Revenue management's request and file shapes: a booking simulator's scenario, fare family
sets, the rows of an imported booking history, and a flight's forecasts as the API shows them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from offerengine.fields import InCalendar, Version
from offerengine.inventory.schemas import Cabin
from offerengine.revenue.core.simulation import Fare, Scenario, Segment

Code = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")]


class FareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    fare: Annotated[Decimal, Field(ge=0, le=1_000_000, decimal_places=2)]
    advance: Annotated[
        int, Field(ge=0, le=365, description="No longer sold this many days out.")
    ] = 0


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=40)]
    arrivals: Annotated[list[Annotated[float, Field(ge=0, le=10_000)]], Field(min_length=1)]
    median_wtp: Annotated[float, Field(gt=0, le=1_000_000)]
    spread: Annotated[float, Field(ge=0, le=5)]
    accepts: list[Code] | None = None


class ScenarioIn(BaseModel):
    """A cabin, its fare classes, the booking periods (days before departure, descending) and
    the customer segments with one arrival rate per period."""

    model_config = ConfigDict(extra="forbid")

    capacity: Annotated[int, Field(gt=0, le=1_000)]
    fares: Annotated[list[FareIn], Field(min_length=1, max_length=26)]
    edges: Annotated[list[Annotated[int, Field(ge=0, le=365)]], Field(min_length=1, max_length=60)]
    segments: Annotated[list[SegmentIn], Field(min_length=1, max_length=20)]

    @model_validator(mode="after")
    def _consistent(self) -> ScenarioIn:
        if self.edges != sorted(set(self.edges), reverse=True):
            raise ValueError("edges must be distinct days before departure, descending")
        codes = [f.code for f in self.fares]
        if len(set(codes)) != len(codes):
            raise ValueError("fare codes must be unique")
        for s in self.segments:
            if len(s.arrivals) != len(self.edges):
                raise ValueError(f"segment {s.name}: one arrival rate per booking period")
            unknown = set(s.accepts or ()) - set(codes)
            if unknown:
                raise ValueError(f"segment {s.name} accepts unknown fares {sorted(unknown)}")
        return self

    def scenario(self) -> Scenario:
        return Scenario(
            capacity=self.capacity,
            fares=tuple(Fare(f.code, f.fare, f.advance) for f in self.fares),
            edges=tuple(self.edges),
            segments=tuple(
                Segment(
                    s.name,
                    tuple(s.arrivals),
                    s.median_wtp,
                    s.spread,
                    tuple(s.accepts) if s.accepts is not None else None,
                )
                for s in self.segments
            ),
        )


# --- fare family sets (configuration) -------------------------------------------------------------

FamilyCode = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Z0-9_-]+$")]
Route = Annotated[str, Field(pattern=r"^[A-Z]{3}-[A-Z]{3}$", examples=["JFK-LHR"])]
DEFAULT_PERIODS = [90, 60, 30, 21, 14, 7, 3, 0]


FeeAmount = Annotated[Decimal, Field(ge=0, le=1_000_000, decimal_places=2)]


class FareFamilyAttributes(BaseModel):
    """What a branded family includes, as a comparable grid shows it: bags, seat choice, change
    and refund rules (fees in the tenant's base currency), priority and lounge; ``other``
    carries further comparable lines a tenant names itself."""

    model_config = ConfigDict(extra="forbid")

    checked_bags: int = Field(default=0, ge=0, le=5, description="Checked bags per passenger.")
    carry_on: bool = Field(default=True, description="A cabin bag beside the personal item.")
    seat_selection: Literal["none", "paid", "standard", "any"] = Field(
        default="paid",
        description="none: assigned at check-in; paid: chosen for a fee; standard: standard "
        "seats free; any: any seat free, extra legroom included.",
    )
    changes: Literal["not_allowed", "fee", "free"] = "not_allowed"
    change_fee: FeeAmount | None = Field(default=None, description="Required when changes is fee.")
    refunds: Literal["not_allowed", "fee", "full"] = "not_allowed"
    refund_fee: FeeAmount | None = Field(default=None, description="Required when refunds is fee.")
    priority_boarding: bool = False
    lounge: bool = False
    other: Annotated[
        dict[
            Annotated[str, Field(min_length=1, max_length=40)],
            Annotated[str, Field(max_length=100)],
        ],
        Field(max_length=20),
    ] = Field(default_factory=dict, examples=[{"Wi-Fi": "Messaging"}])


class FareFamilyIn(BaseModel):
    """One family: what it is called, what it sells at (a multiple of the cabin's fare), and
    what it includes."""

    model_config = ConfigDict(extra="forbid")

    code: FamilyCode = Field(examples=["FLEX"])
    name: Annotated[str, Field(min_length=1, max_length=100)]
    multiplier: Decimal = Field(
        gt=0,
        le=100,
        decimal_places=4,
        description="Its fare as a multiple of the cabin's FLIGHT product price (1: that price, "
        "as shopping sells it today).",
    )
    attributes: FareFamilyAttributes = Field(default_factory=FareFamilyAttributes)


class FareFamilySetIn(BaseModel):
    """A cabin's fare families, nested highest first, on one route or on every route that has
    no set of its own; and the booking periods its forecasts count bookings in."""

    model_config = ConfigDict(extra="forbid")

    cabin: Cabin
    route: Route | None = Field(
        default=None, description="ORIGIN-DESTINATION; none: every route without a set of its own."
    )
    families: Annotated[list[FareFamilyIn], Field(min_length=1, max_length=26)] = Field(
        description="Highest first: each multiplier below the one before it (nested: a family "
        "may take any seat the ones below it could)."
    )
    booking_periods: Annotated[
        list[Annotated[int, Field(ge=0, le=365)]], Field(min_length=1, max_length=60)
    ] = Field(
        default_factory=lambda: list(DEFAULT_PERIODS),
        description="Days before departure, descending: bookings are counted per period.",
    )
    is_active: bool = True


class FareFamilySetUpdate(FareFamilySetIn):
    version: Version | None = None


class FareFamilySetRead(FareFamilySetIn):
    id: uuid.UUID
    tenant_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime

    def as_input(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(FareFamilySetIn.model_fields))


class FareFamilySetTransfer(BaseModel):
    """An export, or an import: sets are matched by cabin and route."""

    model_config = ConfigDict(extra="forbid")

    fare_family_sets: Annotated[list[FareFamilySetIn], Field(max_length=500)]


class FareFamilySetImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    items: list[FareFamilySetRead]


# --- booking history files --------------------------------------------------------------------------

HISTORY_COLUMNS = (
    "flight",
    "departure_date",
    "origin",
    "destination",
    "cabin",
    "fare_family",
    "days_before",
    "count",
    "closed",
)


class BookingRow(BaseModel):
    """A row of an imported booking history: seats booked in a past departure's cabin and fare
    family ``days_before`` it, and whether the family was closed then."""

    model_config = ConfigDict(extra="ignore")

    flight: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,8}$")]
    departure_date: Annotated[date, InCalendar]
    origin: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    destination: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    cabin: Cabin
    fare_family: FamilyCode
    days_before: Annotated[int, Field(ge=0, le=365)]
    count: Annotated[int, Field(ge=0, le=10_000)]
    closed: bool = False


# --- a flight's revenue (API) -------------------------------------------------------------------------


class FamilyForecastRead(BaseModel):
    code: str
    name: str
    multiplier: Decimal
    fare: str | None = Field(description="The family's fare now (the cabin fare × multiplier).")
    booked: int
    demand_mean: float = Field(description="Seats still to come: the forecast's mean.")
    demand_sd: float
    protection: float = Field(description="Seats left kept for the families above this one.")
    booking_limit: int = Field(description="How many more seats it may sell (nested).")
    open: bool


class AccuracyRead(BaseModel):
    held_out: int = Field(description="Past departures forecast to measure the error.")
    mape: float | None
    bias: float | None


class CabinForecastRead(BaseModel):
    fitted_at: datetime
    days_before: int
    seats_left: int
    bid_price: str | None
    currency: str | None
    inputs_version: str = Field(description="SHA-256 of the history and fare family set read.")
    fare_family_set: uuid.UUID | None
    fare_family_set_version: int | None
    history_departures: int
    accuracy: AccuracyRead | None
    families: list[FamilyForecastRead]


class CurvePeriodRead(BaseModel):
    days_before: int
    until: int
    bookings: int
    by_family: dict[str, int]


class CabinRevenueRead(BaseModel):
    cabin: str
    capacity: int
    booked: int
    forecast: CabinForecastRead | None
    why: str | None = Field(default=None, description="Why there is no forecast, when none.")
    booking_curve: list[CurvePeriodRead]


class ForecastRunRead(BaseModel):
    """What a forecast run did."""

    markets: int
    flights: int
    cabins: int
    skipped: dict[str, int] = Field(description="Cabins not forecast, by why.")
    left_out: dict[str, int] = Field(description="Seats of families no set names, per family.")


class FlightRevenueRead(BaseModel):
    flight_id: uuid.UUID
    flight: str
    route: str
    departure_date: date
    cabins: list[CabinRevenueRead]
    run: ForecastRunRead | None = Field(
        default=None, description="What the forecast just run did (POST …/revenue/forecast)."
    )


# --- price-point policies (configuration) and their report ----------------------------------------

Multiplier = Annotated[Decimal, Field(gt=0, le=10, decimal_places=4)]


class PricePointPolicyIn(BaseModel):
    """A cabin's learned prices on one route or on every route without a policy of its own: the
    multipliers of the rules' price a bandit chooses among, within the product's floor and
    ceiling, moving at most ``max_step`` between two successive choices."""

    model_config = ConfigDict(extra="forbid")

    cabin: Cabin
    route: Route | None = Field(
        default=None,
        description="ORIGIN-DESTINATION; none: every route without a policy of its own.",
    )
    multipliers: Annotated[list[Multiplier], Field(min_length=1, max_length=20)] = Field(
        description="Allowed multiples of the rules' price, ascending, 1 (the rules' price) "
        "among them.",
        examples=[["0.9", "1", "1.1", "1.2"]],
    )
    max_step: Annotated[Decimal, Field(gt=0, le=10, decimal_places=4)] = Field(
        description="The largest change of multiplier between two successive choices."
    )
    epsilon: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.1,
        description="The share of choices that explore another point, once the policy has "
        "learnt (none before).",
    )
    mode: Literal["shadow", "live"] = Field(
        default="shadow",
        description="shadow: serve the rules' price and log what the policy would choose; "
        "live: serve the policy's point.",
    )
    is_active: bool = True


class PricePointPolicyUpdate(PricePointPolicyIn):
    version: Version | None = None


class PricePointPolicyRead(PricePointPolicyIn):
    id: uuid.UUID
    tenant_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime

    def as_input(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(PricePointPolicyIn.model_fields))


class PricePointPolicyTransfer(BaseModel):
    """An export, or an import: policies are matched by cabin and route."""

    model_config = ConfigDict(extra="forbid")

    price_point_policies: Annotated[list[PricePointPolicyIn], Field(max_length=500)]


class PricePointPolicyImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    items: list[PricePointPolicyRead]


MAX_SIMULATED_CUSTOMERS = 200_000


class SimulateIn(BaseModel):
    """A simulation of the booking policies: the route (none: the demonstration route), how
    many departures, how much history, and the seed."""

    model_config = ConfigDict(extra="forbid")

    scenario: ScenarioIn | None = None
    departures: Annotated[int, Field(ge=1, le=100)] = 60
    history: Annotated[int, Field(ge=2, le=100)] = 60
    seed: Annotated[int, Field(ge=0, le=2**31)] = 1

    @model_validator(mode="after")
    def _bounded(self) -> SimulateIn:
        # A request simulates every customer of every departure: keep one request's work bounded.
        if self.scenario is not None:
            per_departure = sum(sum(s.arrivals) for s in self.scenario.segments)
            if per_departure * (self.departures + self.history) > MAX_SIMULATED_CUSTOMERS:
                raise ValueError(
                    f"scenario: at most {MAX_SIMULATED_CUSTOMERS:,} customers in all "
                    "(arrivals per departure × (departures + history))"
                )
        return self


class OutcomeRead(BaseModel):
    policy: str
    departures: int
    revenue: float = Field(description="Mean revenue per departure.")
    revenue_sd: float
    load_factor: float
    sold_by_class: dict[str, float]


class EstimateRead(BaseModel):
    method: str
    value: float
    low: float
    high: float
    n: int
    level: float
    effective_n: float | None


class SimulationRead(BaseModel):
    """Each booking policy's outcome on the same customers, and the learned prices' off-policy
    estimate per customer shown (a multiple of the highest fare) against the rules' prices."""

    capacity: int
    classes: list[str]
    outcomes: list[OutcomeRead]
    learned: EstimateRead
    rules: EstimateRead
    logged: int
    points_served: dict[str, float]
