from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from offerengine.decisioning.schemas import Contextual
from offerengine.fields import IsoDate
from offerengine.inventory.schemas import Cabin
from offerengine.rulebook import core as rulebook

Iata = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
TypeCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,49}$")]
Short = Annotated[str, StringConstraints(min_length=1, max_length=50)]
PassengerType = Literal["ADULT", "CHILD", "INFANT"]
PASSENGER_TYPES: tuple[PassengerType, ...] = ("ADULT", "CHILD", "INFANT")


class PassengersIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # counts, not true/false

    adults: int = Field(default=1, ge=0, le=9)
    children: int = Field(default=0, ge=0, le=9)
    infants: int = Field(default=0, ge=0, le=9)

    @model_validator(mode="after")
    def _party(self) -> Self:
        if self.adults + self.children == 0:
            raise ValueError("at least one adult or child")
        if self.adults + self.children > 9:
            raise ValueError("at most 9 seated passengers per search")
        if self.infants > self.adults:
            raise ValueError("each infant travels on an adult's lap: no more infants than adults")
        return self


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: Annotated[str, StringConstraints(max_length=200)] | None = None
    segment: Short | None = Field(default=None, examples=["business"])
    tier: Short | None = Field(default=None, examples=["GOLD"])


class SearchRequest(BaseModel):
    """``POST /v1/offers/search``."""

    model_config = ConfigDict(extra="forbid")

    origin: Iata = Field(examples=["JFK"])
    destination: Iata = Field(examples=["LHR"])
    date: IsoDate = Field(description="Local departure date at the origin.")
    passengers: PassengersIn = Field(default_factory=PassengersIn)
    cabin: Cabin = "ECONOMY"
    customer: CustomerIn = Field(default_factory=CustomerIn)
    channel: Short | None = Field(default=None, examples=["web"])
    currency: CurrencyCode | None = Field(
        default=None, description="Selling currency (ISO 4217; never NUC). Default: the tenant's."
    )
    context: dict[str, JsonValue] = Field(
        default_factory=dict, description="Extra facts for pricing rules (context.*)."
    )

    @model_validator(mode="after")
    def _route(self) -> Self:
        if self.origin == self.destination:
            raise ValueError("origin and destination are the same airport")
        return self


# --- offer rules --------------------------------------------------------------------------------


class OfferTypeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: TypeCode = Field(description="FLIGHT_ONLY or a bundle type.", examples=["COMFORT"])
    priority: int = Field(default=0, ge=-1000, le=1000, description="Lower is shown first on ties.")
    always_include: bool = False


class RankingWeights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversion_probability: Decimal = Field(default=Decimal("0.6"), ge=0, le=1, decimal_places=4)
    profit_margin: Decimal = Field(default=Decimal("0.4"), ge=0, le=1, decimal_places=4)


class ConversionModelIn(Contextual):
    """Shop's conversion probability learnt per customer and context: a contextual bandit over
    the offer types (``offerengine.learning``), its arms the offer types, rewarded when an order
    is made from an offer of the type within the window after the search. Unlearnt, it gives the Beta-Binomial estimate of the type's rate for the
    customer's segment; the learnt estimate takes over by its confidence in the search's context.
    Features read ``profile.*`` (the stored profile of `customer.id`, under the search's customer
    fields) and ``context.*`` (the search's context, and `context.channel`, `context.cabin`,
    `context.origin`, `context.destination`, `context.adults`, `context.children`,
    `context.infants`, `context.days_ahead`)."""

    reward: Literal["order"] = Field(  # type: ignore[assignment]
        default="order", description="order: an order made from an offer of the type."
    )
    reward_window_seconds: int = Field(
        default=1800,
        ge=1,
        le=7 * 86400,
        description="How long after the search an order counts; then an offer type shown and "
        "not ordered is learnt as reward 0.",
    )


class OfferRulesIn(BaseModel):
    """Seed 001's offer generation rule ("Standard Offer Mix"), also in its business rule shape:
    `{"rule_type": "OFFER", "rule_name", "rule_config": {"max_offers", "offer_types", …}}`."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _seed_shape(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        return rulebook.seed_shape(rulebook.OFFER, data, handler)

    rule_name: Annotated[str, StringConstraints(min_length=1, max_length=100)] = (
        "Standard Offer Mix"
    )
    max_offers: int = Field(default=5, ge=1, le=50)
    offer_types: list[OfferTypeIn] | None = Field(
        default=None,
        max_length=30,
        description="None: FLIGHT_ONLY (always included) and every active bundle type.",
    )
    ranking_weights: RankingWeights = Field(default_factory=RankingWeights)
    expiry_minutes: int = Field(default=15, ge=1, le=24 * 60)
    conversion_model: ConversionModelIn | None = Field(
        default=None,
        description="None: the conversion probability is the Beta-Binomial rate of the offer "
        "type in the customer's segment; else a contextual bandit personalises it.",
    )
    conversion_shadow: ConversionModelIn | None = Field(
        default=None,
        description="A candidate conversion model that learns from the same searches and rates "
        "the offer types of each without serving; its agreement and offline estimates are in "
        "the models report.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        seen = [t.type for t in self.offer_types or []]
        if len(seen) != len(set(seen)):
            raise ValueError("each offer type is listed once")
        return self


class OfferRulesUpdate(OfferRulesIn):
    version: int | None = Field(default=None, ge=1)


class ConfigRead(BaseModel):
    id: uuid.UUID | None = Field(description="None until first saved; names its version history.")
    version: int = Field(description="0: never saved, the defaults apply.")
    updated_at: dt.datetime | None


class OfferRulesRead(OfferRulesIn, ConfigRead):
    pass


# --- fare settings ------------------------------------------------------------------------------


class TaxRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,8}$")] = Field(examples=["GB"])
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    kind: Literal["PERCENTAGE", "FIXED"]
    amount: Decimal = Field(ge=0, le=100_000, max_digits=12)
    currency: CurrencyCode | None = Field(default=None, description="FIXED: the amount's currency.")
    airport: Iata | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    applies_to: Literal["DEPARTURE", "ARRIVAL"] = "DEPARTURE"
    passenger_types: list[PassengerType] = Field(
        default_factory=lambda: list(PASSENGER_TYPES), min_length=1
    )

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.kind == "FIXED" and self.currency is None:
            raise ValueError("a FIXED tax names its currency")
        if self.kind == "PERCENTAGE" and self.amount > 100:
            raise ValueError("a percentage is at most 100")
        if self.airport is not None and self.country is not None:
            raise ValueError("give an airport or a country, not both")
        return self


class ExchangeRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: CurrencyCode = Field(alias="from", examples=["NUC"])
    to: CurrencyCode = Field(examples=["USD"])
    rate: Decimal = Field(gt=0, max_digits=20, examples=["1.000000"])


class FareSettingsIn(BaseModel):
    """Taxes and fees, exchange rates, and what children and infants pay."""

    model_config = ConfigDict(extra="forbid")

    child_ratio: Decimal = Field(default=Decimal("0.75"), ge=0, le=1, decimal_places=4)
    infant_ratio: Decimal = Field(default=Decimal("0.10"), ge=0, le=1, decimal_places=4)
    taxes: list[TaxRuleIn] = Field(default_factory=list, max_length=200)
    exchange_rates: list[ExchangeRateIn] = Field(default_factory=list, max_length=500)
    low_inventory_webhook: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None,
        description="POSTed a low_inventory event (JSON) when a resource goes below its threshold.",
    )


class FareSettingsUpdate(FareSettingsIn):
    version: int | None = Field(default=None, ge=1)


class FareSettingsRead(FareSettingsIn, ConfigRead):
    pass


# --- offers (documentation of the hot responses) ------------------------------------------------


class OfferPrice(BaseModel):
    base: str
    adjustments: str
    discount: str
    taxes: list[dict[str, Any]]
    tax_total: str
    total: str
    currency: str
    per_passenger: list[dict[str, Any]]


class OfferRead(BaseModel):
    offer_id: str
    search_id: str
    offer_type: str
    bundle: dict[str, Any] | None
    cabin: str
    flight: dict[str, Any]
    items: list[dict[str, Any]]
    omitted: list[dict[str, Any]]
    price: OfferPrice
    currency: str
    created_at: dt.datetime
    expires_at: dt.datetime
    score: float
    score_parts: dict[str, float]
    low_stock: list[str]


class SearchResponse(BaseModel):
    search_id: str
    offers: list[OfferRead]
    warnings: list[str]
    feature_flags: dict[str, JsonValue] | None = Field(
        default=None,
        description="The tenant's flags tagged `shop`, evaluated for the customer (present when "
        "there are any).",
    )


class RepriceResponse(BaseModel):
    offer_id: str
    price_changed: bool
    previous_total: str
    offer: OfferRead
