"""Experiments as run time sees them, and the pure assignment decision.

Whether a unit is in an experiment, and in which variant, depends only on the experiment's compiled
definition, the unit id, its attributes and the clock: every worker answers the same. Stickiness
(a unit keeps the variant it was first exposed to, even after the weights change) is the service's
job, since it needs the recorded exposures.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from offerengine.experiments.assignment import (
    bucket_ranges,
    choose_variation,
    eval_condition,
    hash_unit,
    in_namespace,
)

__all__ = ["Assignment", "ExperimentFacts", "ExperimentIndex", "VariantFacts", "assign"]


@dataclass(frozen=True, slots=True)
class VariantFacts:
    key: str
    weight: float
    config: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ExperimentFacts:
    id: uuid.UUID
    key: str
    unit: str
    status: str  # draft | running | stopped
    variants: tuple[VariantFacts, ...]
    coverage: float
    targeting: Mapping[str, Any] | None
    namespace: tuple[str, float, float] | None
    seed: str
    hash_version: int
    start: datetime | None
    end: datetime | None
    winner: str | None
    version: int
    ranges: tuple[tuple[float, float], ...] = field(default=())

    @staticmethod
    def make(**values: Any) -> "ExperimentFacts":
        """Compile: the bucket ranges are computed once, not per request."""
        variants: tuple[VariantFacts, ...] = values["variants"]
        total = sum(v.weight for v in variants) or 1.0
        shares = [v.weight / total for v in variants]
        ranges = tuple(bucket_ranges(len(variants), values["coverage"], shares))
        return ExperimentFacts(**values, ranges=ranges)

    def variant(self, key: str) -> VariantFacts | None:
        return next((v for v in self.variants if v.key == key), None)

    @property
    def control(self) -> VariantFacts:
        return self.variants[0]


@dataclass(frozen=True, slots=True)
class Assignment:
    """The answer for one unit. ``variant`` is what to serve; ``in_experiment`` whether it counts."""

    experiment: ExperimentFacts
    variant: VariantFacts
    in_experiment: bool
    hash_value: str
    bucket: float | None
    reason: str


def assign(
    experiment: ExperimentFacts,
    unit_id: str | None,
    attributes: Mapping[str, Any],
    *,
    at: datetime,
    saved_groups: Mapping[str, Any] | None = None,
) -> Assignment:
    """Decide, without recording anything, which variant the unit gets (GrowthBook's order)."""

    def outside(reason: str, bucket: float | None = None) -> Assignment:
        served = experiment.variant(experiment.winner) if experiment.winner else None
        return Assignment(
            experiment, served or experiment.control, False, unit_id or "", bucket, reason
        )

    if experiment.status == "draft":
        return outside("the experiment has not started")
    if experiment.status == "stopped":
        if experiment.winner:
            return outside(f"the experiment stopped; everyone gets {experiment.winner!r}")
        return outside("the experiment stopped")
    if experiment.start is not None and at < experiment.start:
        return outside(f"the experiment starts at {experiment.start.isoformat()}")
    if experiment.end is not None and at >= experiment.end:
        return outside(f"the experiment ended at {experiment.end.isoformat()}")
    if not unit_id:
        return outside(f"no {experiment.unit}: a unit id is needed to assign a variant")
    if experiment.targeting and not eval_condition(attributes, experiment.targeting, saved_groups):
        return outside("the unit does not match the targeting condition")
    if experiment.namespace is not None and not in_namespace(unit_id, experiment.namespace):
        return outside(f"the unit is outside namespace {experiment.namespace[0]!r}")
    bucket = hash_unit(experiment.seed, unit_id, experiment.hash_version)
    if bucket is None:  # the version is checked when saved
        return outside("unknown hash version")
    index = choose_variation(bucket, experiment.ranges)
    if index < 0:
        return outside(f"the unit is outside the {experiment.coverage:.0%} coverage", bucket)
    return Assignment(experiment, experiment.variants[index], True, unit_id, bucket, "assigned")


# The variant config keys the shop reads (see offerengine.shopping.core.Treatment).
SHOP_CONFIG_KEYS = ("pricing_rule_tags", "bundle_templates", "offer_rule_weights")


@dataclass(frozen=True, slots=True)
class ExperimentIndex:
    by_key: Mapping[str, ExperimentFacts]
    # Experiments whose variants change shopping, whatever their status, and every pricing rule
    # tag one of their variants names: worked out once, not per search.
    shop: tuple[ExperimentFacts, ...] = ()
    shop_tags: frozenset[str] = frozenset()

    @staticmethod
    def build(experiments: Sequence[ExperimentFacts]) -> "ExperimentIndex":
        shop = tuple(
            e
            for e in experiments
            if any(k in v.config for v in e.variants for k in SHOP_CONFIG_KEYS)
        )
        tags = frozenset(
            tag for e in shop for v in e.variants for tag in v.config.get("pricing_rule_tags") or ()
        )
        return ExperimentIndex({e.key: e for e in experiments}, shop, tags)
