"""Revenue management's request and file shapes: a booking simulator's scenario."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
