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
FamilyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9_-]{1,20}$")]
PASSENGER_TYPES: tuple[PassengerType, ...] = ("ADULT", "CHILD", "INFANT")
GrantCode = Annotated[
    str, StringConstraints(max_length=20, pattern=r"^\s*[Gg]-[0-9A-Za-z]{10}\s*$")
]


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


class SliceIn(BaseModel):
    """One slice of a journey: an origin, a destination and a local date, ± ``days``."""

    model_config = ConfigDict(extra="forbid")

    origin: Iata = Field(examples=["JFK"])
    destination: Iata = Field(examples=["LHR"])
    date: IsoDate = Field(description="Local departure date at the origin.")
    days: int = Field(
        default=0, ge=0, le=3, description="Also shop the dates up to this many days either side."
    )
    fare_family: FamilyCode | None = Field(
        default=None,
        description="The fare family this slice's fares sell in (default: the search's "
        "`fare_family`, else each set's family at the cabin fare).",
        examples=["FLEX"],
    )

    @model_validator(mode="after")
    def _route(self) -> Self:
        if self.origin == self.destination:
            raise ValueError("origin and destination are the same airport")
        return self


class SearchRequest(BaseModel):
    """``POST /v1/offers/search``: a one-way search (``origin``, ``destination``, ``date``: the
    route's nonstop flights) or a journey of one to four ``slices`` (one-way, round trip, open
    jaw, multi-city: nonstops and connections)."""

    model_config = ConfigDict(extra="forbid")

    origin: Iata | None = Field(default=None, examples=["JFK"], description="One-way shape.")
    destination: Iata | None = Field(default=None, examples=["LHR"], description="One-way shape.")
    date: IsoDate | None = Field(
        default=None, description="One-way shape: the local departure date at the origin."
    )
    slices: list[SliceIn] | None = Field(
        default=None,
        min_length=1,
        max_length=4,
        description="A journey instead of the one-way shape: each slice's itineraries include "
        "connections (up to two stops) and one offer prices the whole journey.",
        examples=[
            [
                {"origin": "BOS", "destination": "CDG", "date": "2030-06-01"},
                {"origin": "CDG", "destination": "BOS", "date": "2030-06-08", "days": 1},
            ]
        ],
    )
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
    coupon_codes: list[GrantCode] = Field(
        default_factory=list,
        max_length=5,
        description="Personal coupon codes (a campaign's grants, `G-` and ten letters or "
        "digits) of the searching `customer.id`, as `POST /v1/quote` takes them: each is taken "
        "off the offers it is valid for (`price.coupons`), or the answer's `coupons` says why "
        "not (docs/promotions.md).",
        examples=[["G-3F0A9C21B7"]],
    )
    fare_family: FamilyCode | None = Field(
        default=None,
        description="The branded fare family to sell (a code of the cabin's fare family set on "
        "the route; a journey's slices may name their own). Offers are priced in it, carry it on "
        "their FLIGHT item, and are left out where its booking limit closed it. Default: the "
        "family at the cabin fare (multiplier 1).",
        examples=["FLEX"],
    )

    @model_validator(mode="after")
    def _route(self) -> Self:
        if self.slices is not None:
            if (self.origin, self.destination, self.date) != (None, None, None):
                raise ValueError("give slices, or origin, destination and date; not both")
        elif self.origin is not None and self.origin == self.destination:
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
    low_inventory_offer: TypeCode | None = Field(
        default=None,
        description="The priority offer when seats run low: an offer type (FLIGHT_ONLY or a "
        "bundle type) whose best offer on a flight with low cabin seats (below the inventory "
        "rule's min_availability_threshold) is always shown, first, with `priority_offer` in "
        "its score parts.",
        examples=["COMFORT"],
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
    coupons: dict[str, Any] | None = Field(
        default=None,
        description="With the search's `coupon_codes`: the personal coupons taken off this "
        "offer (`applied`: code, grant, amount, what it took off, its share per item), those "
        "not (`rejected`: code, reason), and `total_before` them.",
    )


class OfferRead(BaseModel):
    offer_id: str
    search_id: str
    offer_type: str
    bundle: dict[str, Any] | None
    cabin: str
    flight: dict[str, Any] = Field(description="The flight (a journey's: its first segment).")
    journey: dict[str, Any] | None = Field(
        default=None, description="A journey offer: its type and how many slices."
    )
    slices: list[dict[str, Any]] | None = Field(
        default=None, description="A journey offer: each slice with its stops and segments."
    )
    items: list[dict[str, Any]]
    omitted: list[dict[str, Any]]
    price: OfferPrice
    currency: str
    fare_families: list[dict[str, Any]] | None = Field(
        default=None,
        description="When the cabin has a fare family set: the offer in each family, lowest "
        "first (code, name, attributes with fees in `fee_currency`, the offer's `total` in it "
        "and the `difference`, `available` and `remaining` seats under its booking limit, "
        "`selected`); a journey offer: `[{slice, families}]`, a grid per slice.",
    )
    created_at: dt.datetime
    expires_at: dt.datetime
    score: float
    score_parts: dict[str, float]
    low_stock: list[str]


class SearchResponse(BaseModel):
    search_id: str
    offers: list[OfferRead]
    warnings: list[str]
    alternatives: dict[str, Any] | None = Field(
        default=None,
        description="When nothing is sellable: the nearest dates with seats (`dates`, per "
        "slice) and connections with seats on the asked dates (`connections`).",
    )
    feature_flags: dict[str, JsonValue] | None = Field(
        default=None,
        description="The tenant's flags tagged `shop`, evaluated for the customer (present when "
        "there are any).",
    )
    coupons: dict[str, Any] | None = Field(
        default=None,
        description="With `coupon_codes`: per code, the offers it was taken off (`applied`) or "
        "why it applied to none (`rejected`).",
    )


class RepriceResponse(BaseModel):
    offer_id: str
    price_changed: bool
    previous_total: str
    offer: OfferRead


# --- connection rules ---------------------------------------------------------------------------


class ConnectionTimeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    airport: Iata = Field(examples=["LHR"])
    min_connection_minutes: int = Field(ge=0, le=24 * 60, examples=[75])
    max_connection_minutes: int = Field(ge=1, le=48 * 60, examples=[360])

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.max_connection_minutes < self.min_connection_minutes:
            raise ValueError("max_connection_minutes is below min_connection_minutes")
        return self


class ConnectionRulesIn(BaseModel):
    """How journeys connect: minimum and maximum connection times (by default and per airport),
    how many stops, and the routing limit."""

    model_config = ConfigDict(extra="forbid")

    min_connection_minutes: int = Field(default=60, ge=0, le=24 * 60)
    max_connection_minutes: int = Field(default=360, ge=1, le=48 * 60)
    airports: list[ConnectionTimeIn] = Field(default_factory=list, max_length=500)
    max_stops: int = Field(default=2, ge=0, le=2)
    routing_ratio: Decimal = Field(
        default=Decimal("1.6"),
        ge=1,
        le=5,
        decimal_places=2,
        description="No backtracking: an itinerary's great-circle distance flown is at most this "
        "times the origin-destination great-circle distance.",
    )
    max_itineraries: int = Field(
        default=12, ge=1, le=50, description="Itineraries kept per slice and date."
    )
    alternative_days: int = Field(
        default=3,
        ge=0,
        le=7,
        description="How many days either side an out-of-stock search looks for seats.",
    )

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.max_connection_minutes < self.min_connection_minutes:
            raise ValueError("max_connection_minutes is below min_connection_minutes")
        seen = [a.airport for a in self.airports]
        if len(seen) != len(set(seen)):
            raise ValueError("each airport is listed once")
        return self


class ConnectionRulesUpdate(ConnectionRulesIn):
    version: int | None = Field(default=None, ge=1)


class ConnectionRulesRead(ConnectionRulesIn, ConfigRead):
    pass
