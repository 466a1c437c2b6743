from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Self

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    model_validator,
)

from offerengine.fields import InCalendar

EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,49}$")]
UnitId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
MAX_EVENTS = 1000


class EventIn(BaseModel):
    """Something a unit did. At least one of profile_id, customer_id and session_id names it."""

    model_config = ConfigDict(extra="forbid")

    event_id: UnitId | None = Field(
        default=None,
        description="Your id for the event: the same id again is accepted and changes nothing.",
    )
    type: EventType = Field(
        examples=["purchase"],
        validation_alias=AliasChoices("type", "eventType"),
        description="impression, click, accept, decline, purchase, or a name of your own (also "
        "accepted as seed 003's `eventType`).",
    )
    profile_id: UnitId | None = None
    customer_id: UnitId | None = None
    session_id: UnitId | None = None
    value: Annotated[Decimal, Field(max_digits=18, decimal_places=6)] | None = Field(
        default=None, description="What it was worth (revenue metrics sum it).", examples=["49.90"]
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    occurred_at: Annotated[AwareDatetime, InCalendar] | None = Field(
        default=None,
        validation_alias=AliasChoices("occurred_at", "at"),
        description="When it happened (also accepted as `at`). Default: when received.",
    )
    decision_id: uuid.UUID | None = Field(
        default=None,
        description="The decision that proposed the offer: it must exist, and have proposed "
        "offer_id.",
    )
    activity_id: uuid.UUID | None = None
    offer_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    properties: dict[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_a_unit(self) -> Self:
        if not (self.profile_id or self.customer_id or self.session_id):
            raise ValueError("name the unit: profile_id, customer_id or session_id")
        return self


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class EventsAccepted(BaseModel):
    accepted: int = Field(description="Events recorded now.")
    duplicates: int = Field(default=0, description="Events whose event_id was already recorded.")
