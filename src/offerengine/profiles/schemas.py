from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictBool, StringConstraints

ConsentName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
AttributeName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
RESERVED = frozenset(
    {"id", "views", "clicks", "accepts", "purchases", "spend", "days_since_seen", "categories",
     "segments", "consent"}
)  # fmt: skip


class ProfileIn(BaseModel):
    """A profile's attributes and consent flags; PUT replaces both, the aggregates stay."""

    model_config = ConfigDict(extra="forbid")

    attributes: dict[AttributeName, JsonValue] = Field(
        default_factory=dict,
        max_length=200,
        description="Read by rules as profile.<name>; a decision's own attributes win over them. "
        "Names the aggregates use (views, clicks, accepts, purchases, spend, days_since_seen, "
        "categories, segments, consent, id) are refused.",
        examples=[{"tier": "GOLD", "home_airport": "JFK", "trips_per_year": 8}],
    )
    consent: dict[ConsentName, StrictBool] = Field(
        default_factory=dict,
        max_length=50,
        description="Consent flags, read as profile.consent.<name>. personalization: false keeps "
        "the profile's attributes, aggregates and segments out of its decisions and makes the "
        "bandits see only the context.",
        examples=[{"personalization": True, "marketing_email": False}],
    )


class CategoryAggregates(BaseModel):
    views: int = 0
    clicks: int = 0
    accepts: int = 0
    purchases: int = 0
    spend: float = 0.0
    last_at: datetime | None = None


class ProfileRead(BaseModel):
    id: str
    attributes: dict[str, Any]
    consent: dict[str, bool]
    views: int = Field(description="Impressions and views reported by its events.")
    clicks: int
    accepts: int
    purchases: int
    spend: float = Field(description="The sum of its purchases' values.")
    last_seen_at: datetime | None = Field(description="Its latest event.")
    categories: dict[str, CategoryAggregates] = Field(
        description="The same per offer category (the event's properties.category, or the "
        "decisioning offer's attributes.category)."
    )
    segments: list[str] = Field(description="The tenant's segments it belongs to now.")
    created_at: datetime
    updated_at: datetime
