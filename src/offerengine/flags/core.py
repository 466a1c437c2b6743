"""Feature flags as run time sees them, and their evaluation: pure, deterministic, explained.

The order of evaluation (docs/flags.md):

1. A disabled flag serves ``default_value`` (reason ``DISABLED``).
2. The ``rules``, in order; the first that applies decides. A rule applies when its targeting
   condition matches the context and, for a ``rollout`` rule, the unit hashes into its percentage;
   ``force`` serves its value (``TARGETING_MATCH``), ``rollout`` its value (``SPLIT``), ``split``
   one of the flag's ``variants`` by weight (``SPLIT``) and ``experiment`` the variant the linked
   experiment assigns (``SPLIT``).
3. The seed's ``rollout`` block: outside its ``start``/``end`` window, or for a segment or region it
   does not list, ``default_value``; otherwise ``value`` for the first ``percentage`` of units by
   hash (``SPLIT``) and ``default_value`` for the rest.
4. Without a rollout block: ``value`` (``STATIC``).

Hashing is GrowthBook's (``offerengine.experiments.assignment``); without a unit id a percentage
rollout is off, and the reason says so: nothing here is random.
"""

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from offerengine.experiments import core as experiments
from offerengine.experiments.assignment import (
    bucket_ranges,
    choose_variation,
    eval_condition,
    hash_unit,
)

__all__ = [
    "Evaluated",
    "Evaluation",
    "Flag",
    "FlagIndex",
    "Rollout",
    "Rule",
    "evaluate",
    "evaluate_all",
    "unit_of",
]

Reason = Literal["STATIC", "DEFAULT", "TARGETING_MATCH", "SPLIT", "DISABLED", "ERROR"]


@dataclass(frozen=True, slots=True)
class Rollout:
    percentage: float
    user_segments: tuple[str, ...]
    regions: frozenset[str]  # case-folded
    start: datetime | None
    end: datetime | None
    hash_attribute: str
    seed: str
    hash_version: int


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    type: Literal["force", "rollout", "split", "experiment"]
    condition: Mapping[str, Any] | None
    value: Any = None
    percentage: float = 100.0
    hash_attribute: str = "user_id"
    seed: str = ""
    hash_version: int = 2
    coverage: float = 1.0
    experiment_key: str | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    key: str
    value: Any
    weight: float


@dataclass(frozen=True, slots=True)
class Flag:
    id: uuid.UUID
    key: str
    type: str
    value: Any
    default_value: Any
    is_enabled: bool
    rollout: Rollout | None
    rules: tuple[Rule, ...]
    variants: tuple[Variant, ...]
    version: int
    definition: bytes  # the flag as the API shows it, encoded once
    tags: tuple[str, ...] = ()

    def variant_value(self, key: str) -> tuple[bool, Any]:
        for v in self.variants:
            if v.key == key:
                return True, v.value
        return False, None


@dataclass(frozen=True, slots=True)
class Evaluation:
    key: str
    value: Any
    reason: Reason
    variant: str | None
    rule_id: str | None
    detail: str
    version: int
    assignment: experiments.Assignment | None = None


def unit_of(context: Mapping[str, Any], attribute: str) -> str | None:
    """The unit id to hash: the attribute, else OpenFeature's ``targetingKey`` for ``user_id``."""
    value = context.get(attribute)
    if value is None and attribute == "user_id":
        value = context.get("targetingKey")
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else repr(value)
    return None


def evaluate(
    flag: Flag,
    context: Mapping[str, Any],
    *,
    at: datetime,
    experiments_index: experiments.ExperimentIndex,
    saved_groups: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Evaluate a flag for a context (a flat dict of attributes; see ``attributes_of``), in the
    order of the module's doc."""
    if not flag.is_enabled:
        return _result(flag, flag.default_value, "DISABLED", "the flag is disabled", variant="off")
    for rule in flag.rules:
        if rule.condition and not eval_condition(context, rule.condition, saved_groups):
            continue
        found = _by_rule(
            flag,
            rule,
            context,
            at=at,
            experiments_index=experiments_index,
            saved_groups=saved_groups,
        )
        if found is not None:
            return found
    return _by_rollout(flag, context, at=at)


def _result(
    flag: Flag,
    value: Any,
    reason: Reason,
    detail: str,
    *,
    variant: str | None = None,
    rule: str | None = None,
    assignment: experiments.Assignment | None = None,
) -> Evaluation:
    return Evaluation(flag.key, value, reason, variant, rule, detail, flag.version, assignment)


def _by_rule(
    flag: Flag,
    rule: Rule,
    context: Mapping[str, Any],
    *,
    at: datetime,
    experiments_index: experiments.ExperimentIndex,
    saved_groups: Mapping[str, Any] | None,
) -> Evaluation | None:
    """Step 2 for a rule whose condition matched: what it serves, or None when it does not
    apply (the unit outside its rollout or split, or not in its experiment)."""
    if rule.type == "force":
        return _result(
            flag, rule.value, "TARGETING_MATCH", f"rule {rule.id!r} matched", rule=rule.id
        )
    if rule.type == "rollout":
        return _rollout_rule(flag, rule, context)
    if rule.type == "split":
        return _split_rule(flag, rule, context)
    if rule.type == "experiment" and rule.experiment_key is not None:
        return _experiment_rule(
            flag, rule, rule.experiment_key, context, at, experiments_index, saved_groups
        )
    return None


def _rollout_rule(flag: Flag, rule: Rule, context: Mapping[str, Any]) -> Evaluation | None:
    """The rule's value when the unit hashes into its percentage."""
    unit = unit_of(context, rule.hash_attribute)
    if unit is None:
        return None
    n = hash_unit(rule.seed, unit, rule.hash_version)
    if n is None or n >= rule.percentage / 100:
        return None
    return _result(
        flag,
        rule.value,
        "SPLIT",
        f"rule {rule.id!r}: bucket {n} is within its {rule.percentage:g}% rollout",
        rule=rule.id,
    )


def _split_rule(flag: Flag, rule: Rule, context: Mapping[str, Any]) -> Evaluation | None:
    """The flag's variant the unit hashes into, by weight, within the rule's coverage."""
    unit = unit_of(context, rule.hash_attribute)
    if unit is None or not flag.variants:
        return None
    n = hash_unit(rule.seed, unit, rule.hash_version)
    total = sum(v.weight for v in flag.variants) or 1.0
    ranges = bucket_ranges(
        len(flag.variants), rule.coverage, [v.weight / total for v in flag.variants]
    )
    index = choose_variation(n, ranges) if n is not None else -1
    if index < 0:
        return None
    chosen = flag.variants[index]
    return _result(
        flag,
        chosen.value,
        "SPLIT",
        f"rule {rule.id!r}: bucket {n} falls in variant {chosen.key!r}",
        variant=chosen.key,
        rule=rule.id,
    )


def _experiment_rule(
    flag: Flag,
    rule: Rule,
    key: str,
    context: Mapping[str, Any],
    at: datetime,
    experiments_index: experiments.ExperimentIndex,
    saved_groups: Mapping[str, Any] | None,
) -> Evaluation | None:
    """The flag's variant the linked experiment assigns (or shipped, once it has a winner); an
    error when the experiment is gone."""
    experiment = experiments_index.by_key.get(key)
    if experiment is None:
        return _result(
            flag,
            flag.default_value,
            "ERROR",
            f"rule {rule.id!r}: experiment {key!r} no longer exists",
            rule=rule.id,
        )
    assignment = experiments.assign(
        experiment,
        unit_of(context, experiment.unit),
        context,
        at=at,
        saved_groups=saved_groups,
    )
    if not assignment.in_experiment and not experiment.winner:
        return None
    found, value = flag.variant_value(assignment.variant.key)
    if not found:
        return None
    return _result(
        flag,
        value,
        "SPLIT",
        f"rule {rule.id!r}: experiment {experiment.key!r} "
        + (
            f"assigns variant {assignment.variant.key!r}"
            if assignment.in_experiment
            else f"shipped variant {assignment.variant.key!r}"
        ),
        variant=assignment.variant.key,
        rule=rule.id,
        assignment=assignment,
    )


def _by_rollout(flag: Flag, context: Mapping[str, Any], *, at: datetime) -> Evaluation:
    """Steps 3 and 4: the seed's rollout block decides, or, without one, the flag's value."""
    rollout = flag.rollout
    if rollout is None:
        return _result(flag, flag.value, "STATIC", "the flag is on", variant="on")
    off = flag.default_value
    outside = _outside_audience(rollout, context, at)
    if outside is not None:
        return _result(flag, off, "DEFAULT", outside)
    if rollout.percentage >= 100:
        return _result(
            flag, flag.value, "TARGETING_MATCH", "in the rollout's audience", variant="on"
        )
    unit = unit_of(context, rollout.hash_attribute)
    if unit is None:
        return _result(
            flag,
            off,
            "DEFAULT",
            f"no {rollout.hash_attribute}: a {rollout.percentage:g}% rollout needs a unit to hash",
            variant="off",
        )
    n = hash_unit(rollout.seed, unit, rollout.hash_version)
    if n is not None and n < rollout.percentage / 100:
        return _result(
            flag,
            flag.value,
            "SPLIT",
            f"bucket {n} is within the {rollout.percentage:g}% rollout",
            variant="on",
        )
    return _result(
        flag,
        off,
        "SPLIT",
        f"bucket {n} is outside the {rollout.percentage:g}% rollout",
        variant="off",
    )


def _outside_audience(rollout: Rollout, context: Mapping[str, Any], at: datetime) -> str | None:
    """Why the context is outside the rollout's window, segments or regions; None when inside."""
    if rollout.start is not None and at < rollout.start:
        return f"the rollout starts at {rollout.start.isoformat()}"
    if rollout.end is not None and at >= rollout.end:
        return f"the rollout ended at {rollout.end.isoformat()}"
    if rollout.user_segments:
        segments = _strings(context.get("segment"))
        if not segments.intersection(rollout.user_segments):
            shown = ", ".join(sorted(segments)) or "none"
            return f"segment ({shown}) is not one of the rollout's user_segments"
    if rollout.regions:
        region = context.get("region")
        if not isinstance(region, str) or region.casefold() not in rollout.regions:
            return f"region {region!r} is not one of the rollout's regions"
    return None


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {v for v in value if isinstance(v, str)}
    return set()


def attributes_of(context: Mapping[str, Any]) -> dict[str, Any]:
    """A request context as conditions see it: the ``attributes`` object's fields also at the top
    level (where the top-level fields win), so ``beta`` and ``attributes.beta`` both read it."""
    nested = context.get("attributes")
    flat = dict(nested) if isinstance(nested, Mapping) else {}
    flat.update(context)
    return flat


@dataclass(frozen=True, slots=True)
class FlagIndex:
    by_key: Mapping[str, Flag]
    # Flag keys by tag: the engine's answers echo the flags tagged "quote", "shop" or "decide".
    tagged: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @staticmethod
    def build(flags: Sequence[Flag]) -> "FlagIndex":
        tagged: dict[str, list[str]] = {}
        for f in sorted(flags, key=lambda f: f.key):
            for tag in f.tags:
                tagged.setdefault(tag, []).append(f.key)
        return FlagIndex(
            {f.key: f for f in flags},
            MappingProxyType({tag: tuple(keys) for tag, keys in tagged.items()}),
        )


@dataclass(frozen=True, slots=True)
class Evaluated:
    """Several flags for one context: their values, and the units their experiments exposed."""

    values: dict[str, Any]
    exposures: list[dict[str, Any]]


def evaluate_all(
    index: FlagIndex,
    keys: Iterable[str],
    context: Mapping[str, Any],
    *,
    at: datetime,
    experiments_index: experiments.ExperimentIndex,
    saved_groups: Mapping[str, Any] | None = None,
) -> Evaluated:
    """Evaluate the flags ``keys`` (those that exist) for ``context``; an experiment a flag
    follows exposes the unit (the caller records ``exposures``, once per unit)."""
    values: dict[str, Any] = {}
    exposures: list[dict[str, Any]] = []
    for key in keys:
        flag = index.by_key.get(key)
        if flag is None:
            continue
        found = evaluate(
            flag, context, at=at, experiments_index=experiments_index, saved_groups=saved_groups
        )
        values[key] = found.value
        a = found.assignment
        if a is not None and a.in_experiment:
            exposures.append(
                {
                    "experiment_id": a.experiment.id,
                    "unit_id": a.hash_value,
                    "variant": a.variant.key,
                    "bucket": a.bucket,
                }
            )
    return Evaluated(values, exposures)


def encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
