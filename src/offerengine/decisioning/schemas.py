"""Decisioning configuration (seed 003) and the decision request and response."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    field_validator,
    model_validator,
)

from offerengine.fields import Timestamp

Status = Literal["draft", "approved", "archived"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Description = Annotated[str, StringConstraints(max_length=2000)] | None
Channel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,29}$")]
Money = Annotated[Decimal, Field(max_digits=18, decimal_places=6, allow_inf_nan=False)]
Rule = Annotated[
    str | dict[str, JsonValue] | None,
    Field(
        default=None,
        description="A rules-language expression or a JSON condition over profile.*, context.* "
        "and offer.*; none: everyone.",
        examples=["profile.tier in ['GOLD', 'PLATINUM'] and context.days_to_departure <= 7"],
    ),
]
MAX_CAPS = 10


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Named(Config):
    """Every decisioning object has a name, unique among the tenant's objects of its kind."""

    name: Name


class Calendar(Config):
    start: Timestamp | None = Field(default=None, description="Takes part from then on.")
    end: Timestamp | None = Field(default=None, description="Takes part until then.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PlacementIn(Named):
    """Where an offer is shown, and what kind of content fits there."""

    status: Status = "approved"
    channel: Channel = Field(
        examples=["web"], description="web, mobile, email, agent, kiosk, api …"
    )
    content_type: Literal["text", "html", "image", "json"]
    description: Description = Field(
        default=None, description="The implied contract: sizes, fields the channel expects."
    )


class Representation(Config):
    placement_id: uuid.UUID
    content: dict[str, JsonValue] = Field(
        description="What the channel shows in that placement.",
        examples=[{"headline": "Upgrade to Business", "image": "https://cdn.example/upgrade.png"}],
    )


def _one_per_placement(representations: list[Representation]) -> list[Representation]:
    seen: set[uuid.UUID] = set()
    for rep in representations:
        if rep.placement_id in seen:
            raise ValueError(f"placement {rep.placement_id} has two representations; keep one")
        seen.add(rep.placement_id)
    return representations


class Window(Config):
    type: Literal["lifetime", "calendar", "rolling"] = Field(
        default="lifetime",
        description="lifetime: never resets; calendar: resets at the start of each day, week "
        "(Monday) or month in the cap's timezone; rolling: the last `count` hours, days, weeks "
        "(7 days) or months (30 days), sliding with every event.",
    )
    unit: Literal["hour", "day", "week", "month"] | None = None
    count: int | None = Field(
        default=None, ge=1, le=1000, description="Rolling windows: how many units (1 by default)."
    )

    @model_validator(mode="after")
    def _unit(self) -> Self:
        if self.type == "lifetime" and self.unit is not None:
            raise ValueError("a lifetime window has no unit")
        if self.type != "lifetime" and self.unit is None:
            raise ValueError(f"a {self.type} window needs a unit: day, week or month")
        if self.type == "calendar" and self.unit == "hour":
            raise ValueError("calendar windows are days, weeks or months; use a rolling window")
        if self.type != "rolling" and self.count is not None:
            raise ValueError("count is for rolling windows")
        return self


class CapRule(Config):
    """At most `limit` events of a kind, for everyone (global) or for each profile, per window."""

    scope: Literal["global", "profile"]
    limit: int = Field(ge=1, le=2**31 - 1)
    event: Literal["decision", "impression", "click", "accept"] = Field(
        default="decision",
        description="decision: counted when the engine proposes the offer (checked and counted "
        "in one atomic step); the others: counted as the client reports them.",
    )
    window: Window = Field(default_factory=Window)
    timezone: str = Field(default="UTC", description="Where calendar windows reset at midnight.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class OfferIn(Named, Calendar):
    """A personalized offer: its content per placement, who may get it, how often, how it ranks."""

    status: Status = "draft"
    priority: int = Field(default=0, ge=-(10**6), le=10**6, description="Higher ranks first.")
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    representations: list[Representation] = Field(default_factory=list, max_length=50)
    eligibility: Rule
    capping: list[CapRule] = Field(default_factory=list, max_length=MAX_CAPS)
    value: Money | None = Field(default=None, description="What an acceptance is worth.")
    cost: Money | None = Field(default=None, description="What proposing it costs.")
    attributes: dict[str, JsonValue] = Field(default_factory=dict)

    _reps = field_validator("representations")(_one_per_placement)


class FallbackOfferIn(Named):
    """What an activity shows when no offer qualifies: representations only, no constraints."""

    status: Status = "approved"
    representations: list[Representation] = Field(min_length=1, max_length=50)
    attributes: dict[str, JsonValue] = Field(default_factory=dict)

    _reps = field_validator("representations")(_one_per_placement)


class CollectionIn(Named):
    """Offers chosen by tags (all or any of them), or an explicit list (which ignores tags)."""

    status: Status = "approved"
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    match: Literal["all", "any"] = "any"
    offer_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _chooses(self) -> Self:
        if self.offer_ids is None and not self.tags:
            raise ValueError("choose offers: give tags or offer_ids")
        return self


class RankingFormulaIn(Named):
    """A score for each offer: higher ranks first."""

    status: Status = "approved"
    expression: Annotated[str, StringConstraints(min_length=1, max_length=4000)] = Field(
        examples=["offer.priority + max(0, 24 - hours_until(offer.end))"]
    )
    description: Description = None


class Prior(Config):
    """What is believed of an offer's acceptance rate before any feedback: Beta(alpha, beta)."""

    alpha: float = Field(default=1.0, gt=0, le=1e6)
    beta: float = Field(default=19.0, gt=0, le=1e6)


Feature = Annotated[
    str,
    StringConstraints(pattern=r"^(profile|context)\.[A-Za-z_][A-Za-z0-9_.]{0,99}(=[^=]{1,100})?$"),
]
MAX_FEATURES = 50


class Contextual(Config):
    """A contextual bandit over the request's profile and context (``offerengine.learning``):
    one ridge regression per offer of the reward that followed proposing it, learnt online
    from feedback once each decision's reward window has closed. Its state is kept apart from
    this configuration, in model versions: changing these settings starts a new version from
    what was learnt (features changed: from nothing), and an old version can be restored."""

    method: Literal["thompson", "linucb", "epsilon_greedy"] = Field(
        default="thompson",
        description="thompson: linear Thompson sampling; linucb: the upper confidence bound; "
        "epsilon_greedy: the best estimate, or now and then (epsilon) any offer.",
    )
    features: list[Feature] = Field(
        default_factory=list,
        max_length=MAX_FEATURES,
        description="What the model sees besides a constant: `profile.x` or `context.x` is the "
        "number (true: 1; missing or not a number: 0); `profile.x=value` is 1 when it equals "
        "value (or, for a list such as profile.segments, holds it), else 0.",
        examples=[["profile.tier=GOLD", "context.channel=app", "profile.trips_last_year"]],
    )
    reward: Literal["click", "accept", "purchase", "revenue", "margin"] = Field(
        default="accept",
        description="What a proposal earned: 1 for a click, accept or purchase event about it; "
        "revenue: the value of its purchases (the offer's value when a purchase says none); "
        "margin: revenue − the offer's cost.",
    )
    reward_window_seconds: int = Field(
        default=3600,
        ge=1,
        le=30 * 86400,
        description="How long after the decision feedback counts; then an unrewarded proposal "
        "is learnt as reward 0.",
    )
    alpha: float = Field(default=1.0, gt=0, le=100, description="linucb: the bound's width.")
    epsilon: float = Field(default=0.05, ge=0, le=1, description="epsilon_greedy: explore share.")
    variance: float = Field(default=0.25, gt=0, le=100, description="thompson: spread of draws.")
    ridge: float = Field(default=1.0, gt=0, le=1e6, description="Weight of the prior θ = 0.")
    warmup: float = Field(
        default=20.0,
        ge=0,
        le=1e6,
        description="Cold start: an offer's learnt score is blended with the activity's "
        "priority ranking by its confidence in the request's context, about n / (n + warmup) "
        "after n rewards in such contexts: never random serving.",
    )

    @field_validator("features")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("features must be distinct")
        return value


class Ranking(Config):
    method: Literal["priority", "formula", "model"] = Field(
        default="priority",
        description="priority: the offers' priority; formula: a ranking formula's score; model: "
        "the learned acceptance rate × value − cost, or with `contextual`, a contextual bandit.",
    )
    formula_id: uuid.UUID | None = None
    policy: Literal["thompson", "mean"] = Field(
        default="thompson",
        description="Model ranking: thompson samples each offer's rate from its posterior "
        "(explores); mean ranks by the posterior mean (exploits).",
    )
    success: Literal["accept", "click"] = Field(
        default="accept", description="Model ranking: the event that counts as a success."
    )
    prior: Prior = Field(default_factory=Prior)
    contextual: Contextual | None = Field(
        default=None,
        description="Model ranking by a contextual bandit over profile and context features "
        "(the prior is its cold-start guess of the reward rate).",
    )
    shadow: Contextual | None = Field(
        default=None,
        description="A candidate bandit that scores every request alongside the live ranking "
        "without serving; its agreement and estimated value are reported with the models.",
    )

    @model_validator(mode="after")
    def _formula(self) -> Self:
        if self.method == "formula" and self.formula_id is None:
            raise ValueError("formula ranking needs formula_id")
        if self.method != "formula" and self.formula_id is not None:
            raise ValueError("formula_id is for formula ranking only")
        if self.contextual is not None and self.method != "model":
            raise ValueError("contextual is for model ranking only")
        return self


class VariantRanking(Ranking):
    """An experiment variant's ranking (its config's ``decision_ranking``), for the activity it
    names by id or name, or for every activity of a request."""

    activity: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class ActivityIn(Named, Calendar):
    """A placement filled from a collection, ranked one way, with a fallback."""

    status: Status = "draft"
    placement_id: uuid.UUID
    collection_id: uuid.UUID
    fallback_offer_id: uuid.UUID
    ranking: Ranking = Field(default_factory=Ranking)


class Stored(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime


class PlacementRead(PlacementIn, Stored):
    pass


class OfferRead(OfferIn, Stored):
    pass


class FallbackOfferRead(FallbackOfferIn, Stored):
    pass


class CollectionRead(CollectionIn, Stored):
    pass


class RankingFormulaRead(RankingFormulaIn, Stored):
    pass


class ActivityRead(ActivityIn, Stored):
    pass


# --- run time -------------------------------------------------------------------------------------

MAX_ACTIVITIES = 30


class Profile(Config):
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    attributes: dict[str, JsonValue] = Field(default_factory=dict)


ActivityRef = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    Field(description="An activity's id, or its name."),
]


class DecisionRequest(Config):
    profile: Profile
    context: dict[str, JsonValue] = Field(default_factory=dict)
    activities: list[ActivityRef] = Field(
        min_length=1,
        max_length=1000,
        description="Activities by id or by name, decided in this order; at most the tenant's "
        "settings.decisioning.max_activities (30 by default).",
        examples=[["Home page hero", "3fa85f64-5717-4562-b3fc-2c963f66afa6"]],
    )
    allow_duplicates: bool = Field(
        default=False, description="Let one offer be proposed for several activities."
    )
    explain: bool = Field(default=False, description="Say what became of every candidate.")
    dry_run: bool = Field(
        default=False, description="Count nothing, record nothing (the response says so)."
    )
    count: int = Field(default=1, ge=1, le=50, description="Items per activity.")


class Item(BaseModel):
    offer_id: uuid.UUID
    name: str
    fallback: bool
    score: float | None
    representation: dict[str, Any]
    propensity: float | None = Field(
        default=None,
        description="Model ranking: the probability that the policy proposes this item here "
        "(logged with the decision for offline evaluation).",
    )


class Proposition(BaseModel):
    activity_id: uuid.UUID
    placement_id: uuid.UUID
    items: list[Item]


class ExperimentApplied(BaseModel):
    key: str
    variant: str
    in_experiment: bool


class DecisionResponse(BaseModel):
    decision_id: uuid.UUID
    dry_run: bool
    propositions: list[Proposition]
    experiments: list[ExperimentApplied] | None = Field(
        default=None,
        description="The running experiments that rank decisions, and the variant this "
        "profile got (present when there is one).",
    )
    feature_flags: dict[str, JsonValue] | None = Field(
        default=None,
        description="The tenant's flags tagged `decide`, evaluated for the profile (present "
        "when there are any).",
    )
    explain: dict[str, Any] | None = None
