from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StringConstraints,
    create_model,
)

from offerengine.profiles import features

ConsentName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
AttributeName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
FEATURES = frozenset(
    {
        *(f"{name}_{n}d" for name in features.WINDOWED for n in features.WINDOWS),
        "revenue",
        "days_since_last_purchase",
        "category_affinity",
        "last_purchase_in",
        "last_session_seconds",
        "abandoned_last_session",
    }
)
RESERVED = frozenset(
    {"id", "views", "clicks", "accepts", "purchases", "spend", "days_since_seen", "categories",
     "segments", "consent", *FEATURES}
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


class _FeaturesBase(BaseModel):
    revenue: Decimal = Field(description="All its purchases' value in the tenant's currency.")
    days_since_last_purchase: float | None = Field(
        default=None, description="Days since its latest purchase (none if it never bought)."
    )
    category_affinity: dict[str, float] = Field(
        description="Its interest per category over 90 days, 0 to 1 (a share of views 1, clicks "
        "2, items added 3, purchases 5)."
    )
    last_purchase_in: dict[str, datetime] = Field(
        description="When it last bought in each category."
    )
    last_session_seconds: int | None = Field(
        default=None, description="How long its latest session that is over lasted."
    )
    abandoned_last_session: bool = Field(
        description="Whether that session added items to a cart and bought nothing."
    )


_WINDOWED: dict[str, Any] = {
    f"{name}_{n}d": (Decimal if name == "revenue" else int, ...)
    for name in features.WINDOWED
    for n in features.WINDOWS
}
ProfileFeatures = create_model(
    "ProfileFeatures",
    __base__=_FeaturesBase,
    __doc__="What its events say of it now, read by rules as profile.<name>: counts over whole "
    "UTC days (today included) and the rest (see docs/learning.md, Features from behaviour).",
    **_WINDOWED,
)


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
    features: ProfileFeatures = Field(
        description="Its features from behaviour as of now (windows of 1, 7, 30, 90 days)."
    )
    created_at: datetime
    updated_at: datetime
