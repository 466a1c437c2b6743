from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from offerengine.fields import IsoDate, LocalDateTime
from offerengine.inventory.models import Flight, InventoryRule

Cabin = Literal["ECONOMY", "PREMIUM_ECONOMY", "BUSINESS", "FIRST"]
Carrier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9]{2,3}$"),
    Field(description="IATA (2) or ICAO (3) airline designator.", examples=["OE"]),
]
FlightNumber = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{1,4}[A-Z]?$"),
    Field(description="1-4 digits and an optional suffix letter.", examples=["100"]),
]
Iata = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="IATA airport code (checked against airportsdata).", examples=["JFK"]),
]
ResourceType = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,49}$")]
ProductCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,49}$")]
Seats = Annotated[int, Field(ge=0, le=2000)]
Weekday = Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
WEEKDAYS: tuple[Weekday, ...] = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
MAX_SCHEDULE_DAYS = 400


class Equipment(BaseModel):
    aircraft: Annotated[str, StringConstraints(max_length=50)] | None = Field(
        default=None, examples=["Boeing 777-300ER"]
    )
    cabins: dict[Cabin, Seats] = Field(
        min_length=1,
        description="Seats per cabin (capacity before overbooking).",
        examples=[{"ECONOMY": 250, "BUSINESS": 40}],
    )
    ancillary_capacity: dict[ProductCode, Seats] = Field(
        default_factory=dict,
        description="Units of limited products on this flight, by product code; overrides the "
        "product's metadata.inventory.capacity.",
        examples=[{"SEAT-EXTRA-LEG": 24, "MEAL-HOT": 60}],
    )


class FlightIn(Equipment):
    model_config = ConfigDict(extra="forbid")

    carrier: Carrier
    flight_number: FlightNumber
    origin: Iata
    destination: Iata
    departure_local: LocalDateTime = Field(
        description="Local time at the origin, without a zone.", examples=["2026-12-20T08:30:00"]
    )
    arrival_local: LocalDateTime = Field(
        description="Local time at the destination, without a zone.",
        examples=["2026-12-20T20:45:00"],
    )
    status: Literal["scheduled", "cancelled"] = "scheduled"

    @model_validator(mode="after")
    def _naive(self) -> Self:
        if self.departure_local.tzinfo is not None or self.arrival_local.tzinfo is not None:
            raise ValueError("local times are given without a zone; the airports' zones apply")
        if self.origin == self.destination:
            raise ValueError("origin and destination are the same airport")
        return self


class FlightBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flights: list[FlightIn] = Field(min_length=1, max_length=5000)


class ScheduleIn(Equipment):
    """A recurring flight: these days of the week, from ``start_date`` to ``end_date``."""

    model_config = ConfigDict(extra="forbid")

    carrier: Carrier
    flight_number: FlightNumber
    origin: Iata
    destination: Iata
    departure_time: time = Field(description="Local at the origin.", examples=["08:30"])
    arrival_time: time = Field(description="Local at the destination.", examples=["20:45"])
    arrival_day_offset: int = Field(
        default=0, ge=0, le=2, description="Days after departure that it arrives (local)."
    )
    days_of_week: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    start_date: IsoDate
    end_date: IsoDate

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        if (self.end_date - self.start_date).days > MAX_SCHEDULE_DAYS:
            raise ValueError(f"a schedule spans at most {MAX_SCHEDULE_DAYS} days")
        if self.origin == self.destination:
            raise ValueError("origin and destination are the same airport")
        if self.departure_time.tzinfo is not None or self.arrival_time.tzinfo is not None:
            raise ValueError("local times are given without a zone; the airports' zones apply")
        return self


class FlightRead(BaseModel):
    id: uuid.UUID
    carrier: str
    flight_number: str
    origin: str
    destination: str
    departure_date: date
    departure_local: str
    arrival_local: str
    departure_at: datetime
    arrival_at: datetime
    aircraft: str | None
    cabins: dict[str, int]
    ancillary_capacity: dict[str, int]
    status: str
    schedule_id: uuid.UUID | None

    @classmethod
    def of(cls, flight: Flight) -> FlightRead:
        return cls(
            id=flight.id,
            carrier=flight.carrier,
            flight_number=flight.flight_number,
            origin=flight.origin,
            destination=flight.destination,
            departure_date=flight.departure_date,
            departure_local=flight.departure_local,
            arrival_local=flight.arrival_local,
            departure_at=flight.departure_at.astimezone(UTC),
            arrival_at=flight.arrival_at.astimezone(UTC),
            aircraft=flight.aircraft,
            cabins=dict(flight.cabins),
            ancillary_capacity=dict(flight.ancillary_capacity),
            status=flight.status,
            schedule_id=flight.schedule_id,
        )


class FlightsCreated(BaseModel):
    created: int
    skipped: int = Field(description="Flights that already existed (same number and date).")
    schedule_id: uuid.UUID | None = None
    items: list[FlightRead]


class StockRead(BaseModel):
    resource_type: str
    resource: str
    scope: str
    capacity: int
    sold: int
    held: int
    overbooking_percentage: str
    sellable: int
    status: Literal["available", "low", "sold_out"]
    min_availability_threshold: int


class AvailabilityRead(BaseModel):
    flight: FlightRead
    cabins: list[StockRead]
    ancillaries: list[StockRead]


# --- inventory rules -------------------------------------------------------------------------


class ReleasePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_release_on_expiry: bool = Field(
        default=True,
        description="Seed 001's flag, kept with the rule; expired holds are always released.",
    )
    notify_on_low_inventory: bool = False


class InventoryRuleIn(BaseModel):
    """Seed 001's inventory rule. ``resource`` narrows it to one cabin or product code."""

    model_config = ConfigDict(extra="forbid")

    resource_type: ResourceType = Field(
        description="SEAT governs cabin seats (and SEAT products); else a product type.",
        examples=["SEAT"],
    )
    resource: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = Field(
        default=None,
        description="A cabin (ECONOMY …) or product code; none: every resource of the type.",
    )
    hold_duration_seconds: int = Field(default=900, ge=30, le=7 * 24 * 3600)
    overbooking_percentage: Decimal = Field(default=Decimal(0), ge=0, le=50, decimal_places=2)
    min_availability_threshold: int = Field(default=0, ge=0, le=100_000)
    release_policy: ReleasePolicy = Field(default_factory=ReleasePolicy)
    is_active: bool = True


class InventoryRuleUpdate(InventoryRuleIn):
    version: int | None = Field(default=None, ge=1)


class InventoryRuleRead(InventoryRuleIn):
    id: uuid.UUID
    tenant_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, rule: InventoryRule) -> InventoryRuleRead:
        return cls(
            id=rule.id,
            tenant_id=rule.tenant_id,
            resource_type=rule.resource_type,
            resource=rule.resource,
            hold_duration_seconds=rule.hold_duration_seconds,
            overbooking_percentage=Decimal(rule.overbooking_percentage).quantize(Decimal("0.01")),
            min_availability_threshold=rule.min_availability_threshold,
            release_policy=ReleasePolicy.model_validate(rule.release_policy or {}),
            is_active=rule.is_active,
            version=rule.version,
            created_at=rule.created_at,
            updated_at=rule.updated_at,
        )

    def as_input(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(InventoryRuleIn.model_fields))
