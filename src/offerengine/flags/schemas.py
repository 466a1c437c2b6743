from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from offerengine.fields import Timestamp
from offerengine.flags.models import FeatureFlag

FlagType = Literal["BOOLEAN", "STRING", "NUMBER", "PERCENTAGE", "JSON"]
Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Attribute = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")]
Percentage = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
HashVersion = Literal[1, 2]
Condition = Annotated[
    dict[str, JsonValue] | None,
    Field(
        default=None,
        description="A GrowthBook targeting condition over the context (MongoDB-like); "
        "none: everyone.",
        examples=[{"segment": {"$in": ["premium", "vip"]}, "attributes.age": {"$gte": 18}}],
    ),
]


class Hashing(BaseModel):
    hash_attribute: Attribute = Field(
        default="user_id", description="The context attribute that identifies the unit."
    )
    seed: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="Hash seed; default: the flag's key (GrowthBook's default)."
    )
    hash_version: HashVersion = Field(
        default=2, description="GrowthBook hash version: 2 (default) or 1 for older flags."
    )


class RolloutIn(Hashing):
    """The seed's rollout: who gets `value` rather than `default_value`."""

    model_config = ConfigDict(extra="forbid")

    percentage: Percentage = 100.0
    user_segments: list[Annotated[str, StringConstraints(min_length=1, max_length=50)]] = Field(
        default_factory=list, max_length=100, description="Empty: every segment."
    )
    regions: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=500, description="Empty: every region (case-insensitive)."
    )
    start: Timestamp | None = None
    end: Timestamp | None = None


RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class ForceRule(BaseModel):
    """When the condition matches: serve `value`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["force"]
    id: RuleId
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    condition: Condition
    value: JsonValue


class RolloutRule(Hashing):
    """When the condition matches: serve `value` to `percentage` % of units."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["rollout"]
    id: RuleId
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    condition: Condition
    percentage: Percentage
    value: JsonValue


class SplitRule(Hashing):
    """When the condition matches: serve one of the flag's `variants`, by weight."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["split"]
    id: RuleId
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    condition: Condition
    coverage: Annotated[float, Field(ge=0, le=1)] = 1.0


class ExperimentRule(BaseModel):
    """When the condition matches: serve the flag variant named like the experiment's variant."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["experiment"]
    id: RuleId
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    condition: Condition
    experiment_key: Key


FlagRule = Annotated[
    ForceRule | RolloutRule | SplitRule | ExperimentRule, Field(discriminator="type")
]


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    value: JsonValue
    weight: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        default=1.0, description="Relative: 50/50 and 0.5/0.5 split alike."
    )


class FeatureFlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key = Field(examples=["dynamic_pricing"])
    name: Name = Field(examples=["Dynamic Pricing"])
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    type: FlagType = Field(examples=["BOOLEAN"])
    value: JsonValue = Field(description="Served when the flag is on for the unit.")
    default_value: JsonValue = Field(
        default=None,
        description="Served when the flag is off (disabled, outside the rollout); "
        "default: false, '', 0, 0 or {} by type.",
    )
    is_enabled: bool = False
    rollout: RolloutIn | None = None
    rules: list[FlagRule] = Field(default_factory=list, max_length=100)
    variants: list[VariantIn] = Field(default_factory=list, max_length=50)
    tags: list[Key] = Field(default_factory=list, max_length=20)


class FeatureFlagCreate(FeatureFlagIn):
    pass


class FeatureFlagUpdate(FeatureFlagIn):
    """A full replacement of the flag's fields."""

    version: int | None = Field(default=None, ge=1, description="Optimistic concurrency.")


class FeatureFlagRead(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    key: str
    name: str
    description: str | None
    type: str
    value: Any
    default_value: Any
    is_enabled: bool
    rollout: dict[str, Any] | None
    rules: list[dict[str, Any]]
    variants: list[dict[str, Any]]
    tags: list[str]
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, flag: FeatureFlag) -> FeatureFlagRead:
        return cls.model_validate(flag, from_attributes=True)

    def as_input(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(FeatureFlagIn.model_fields))


class EvaluationContext(BaseModel):
    """Who the flag is evaluated for. Any other field is an attribute for targeting conditions."""

    model_config = ConfigDict(extra="allow")

    user_id: str | int | None = None
    segment: str | list[str] | None = None
    region: str | None = None
    attributes: dict[str, JsonValue] = Field(default_factory=dict)


class EvaluateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    context: EvaluationContext = Field(
        default_factory=EvaluationContext,
        examples=[{"user_id": "u-42", "segment": "premium", "region": "Istanbul"}],
    )
    at: Timestamp | None = Field(default=None, description="Evaluate as of; default: now.")


class ExperimentApplied(BaseModel):
    key: str
    variant: str
    in_experiment: bool


class EvaluationRead(BaseModel):
    key: str
    value: JsonValue
    variant: str | None = None
    reason: Literal["STATIC", "DEFAULT", "TARGETING_MATCH", "SPLIT", "DISABLED", "ERROR"]
    rule_id: str | None = None
    detail: str = Field(description="Why this value, in words.")
    flag_version: int
    experiment: ExperimentApplied | None = None
