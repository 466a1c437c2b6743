from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Iata = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]


class AirportsAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iata_codes: list[Iata] = Field(
        min_length=1,
        max_length=500,
        description="IATA airport codes to add.",
        examples=[["JFK", "LHR"]],
    )


class AirportRead(BaseModel):
    id: uuid.UUID
    iata: str
    name: str
    city: str
    country: str
    timezone: str
    latitude: float
    longitude: float


class AirportList(BaseModel):
    items: list[AirportRead]
