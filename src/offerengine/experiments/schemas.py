from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from offerengine.experiments.models import Experiment
from offerengine.fields import Timestamp

Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,49}$")]
Unit = Literal["profile_id", "customer_id", "session_id"]
Status = Literal["draft", "running", "stopped"]


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    weight: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        default=1.0, description="Relative share of the traffic: 50/25/25 or 0.5/0.25/0.25."
    )
    config: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="What this variant changes in the engine (docs/experiments.md): "
        "pricing_rule_tags, bundle_templates, offer_rule_weights, decision_ranking, or your own.",
    )


class NamespaceIn(BaseModel):
    """A slice of [0, 1) that keeps mutually exclusive experiments apart (GrowthBook namespaces)."""

    model_config = ConfigDict(extra="forbid")

    name: Key
    start: Annotated[float, Field(ge=0, le=1)]
    end: Annotated[float, Field(ge=0, le=1)]


class MetricIn(BaseModel):
    """A metric computed from events after each unit's exposure.

    `conversion`: the share of units with at least one such event; `revenue`: the sum of their
    values per unit; `count`: the number of such events per unit. Revenue and count compare the
    per-unit means.
    """

    model_config = ConfigDict(extra="forbid")

    key: Key | None = Field(default=None, description="Default: `{kind}_{event}`.")
    kind: Literal["conversion", "revenue", "count"]
    event: EventType = Field(examples=["purchase"])


class ExperimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key = Field(examples=["comfort_bundle_price"])
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    hypothesis: Annotated[str, StringConstraints(max_length=2000)] | None = None
    unit: Unit = "profile_id"
    variants: list[VariantIn] = Field(
        min_length=2, max_length=20, description="The first is the control."
    )
    coverage: Annotated[float, Field(ge=0, le=1)] = Field(
        default=1.0, description="The share of eligible units that enter the experiment."
    )
    targeting: dict[str, JsonValue] | None = Field(
        default=None, description="A GrowthBook targeting condition over the unit's attributes."
    )
    namespace: NamespaceIn | None = None
    primary_metric: MetricIn
    secondary_metrics: list[MetricIn] = Field(default_factory=list, max_length=20)
    seed: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="Hash seed; default: the key."
    )
    hash_version: Literal[1, 2] = 2
    minimum_effect: Annotated[float, Field(gt=0, le=10)] = Field(
        default=0.05,
        description="The smallest relative lift worth detecting; the verdict says no_difference "
        "only once the sample could detect it with 80% power.",
    )
    start: Timestamp | None = None
    end: Timestamp | None = None


class ExperimentCreate(ExperimentIn):
    pass


class ExperimentUpdate(ExperimentIn):
    version: int | None = Field(default=None, ge=1, description="Optimistic concurrency.")


class StopRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    winner: Key | None = Field(
        default=None, description="A variant to serve to everyone from now on."
    )
    version: int | None = Field(default=None, ge=1)


class ExperimentRead(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    key: str
    name: str
    hypothesis: str | None
    unit: str
    variants: list[dict[str, Any]]
    coverage: float
    targeting: dict[str, Any] | None
    namespace: dict[str, Any] | None
    primary_metric: dict[str, Any]
    secondary_metrics: list[dict[str, Any]]
    seed: str | None
    hash_version: int
    minimum_effect: float
    start: datetime | None
    end: datetime | None
    status: str
    started_at: datetime | None
    stopped_at: datetime | None
    winner: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, experiment: Experiment) -> ExperimentRead:
        return cls.model_validate(experiment, from_attributes=True)

    def as_input(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(ExperimentIn.model_fields))


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    attributes: dict[str, JsonValue] = Field(default_factory=dict)


class AssignmentRead(BaseModel):
    experiment: str
    variant: str = Field(description="What to serve (control when not in the experiment).")
    in_experiment: bool
    hash_value: str = Field(description="The unit id that was hashed (GrowthBook's hashValue).")
    bucket: float | None = Field(description="Where the unit hashed to in [0, 1).")
    reason: str
    config: dict[str, Any]
    sticky: bool = Field(description="The variant comes from the unit's first exposure.")


class ComparisonRead(BaseModel):
    variant: str
    absolute_lift: float
    absolute_ci: tuple[float, float] | None
    relative_lift: float | None
    relative_ci: tuple[float, float] | None = Field(description="95%, delta method.")
    p_value: float | None
    test: str
    chance_to_beat_control: float | None
    expected_loss: float | None = Field(
        description="The absolute metric lost, on average, if this variant is shipped and is worse."
    )
    mde_relative: float | None = Field(
        description="The relative lift detectable with 80% power at the current sample size."
    )


class ArmRead(BaseModel):
    variant: str
    units: int
    conversions: int | None = None
    rate: float | None = None
    total: float
    mean: float
    variance: float


class MetricResults(BaseModel):
    key: str
    kind: str
    event: str
    variants: list[ArmRead]
    comparisons: list[ComparisonRead]


class SampleRatio(BaseModel):
    p_value: float | None
    warning: bool
    expected_shares: list[float]
    observed_units: list[int]


class VerdictRead(BaseModel):
    decision: Literal["ship", "keep_running", "no_difference", "srm_warning"]
    winner: str | None
    reason: str
    alpha: float


class ResultsRead(BaseModel):
    experiment_id: uuid.UUID
    key: str
    status: str
    control: str
    computed_at: datetime
    sample_ratio: SampleRatio
    primary: MetricResults
    secondary: list[MetricResults]
    verdict: VerdictRead
