"""GrowthBook's SDK specification, run from its own test cases (tests/data/growthbook/cases.json).

Every section of the file is either run here, case by case and as published, or skipped with the
reason it does not map onto the engine (listed in docs/experiments.md); a section this test does
not know about fails it, so a newer copy of the cases cannot be skipped by accident. No case is
singled out by name: in the ``run`` section, an experiment or a context using a GrowthBook
property the engine does not have is skipped for that property, whatever the case.
"""

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from offerengine.experiments.assignment import (
    bucket_ranges,
    choose_variation,
    equal_weights,
    eval_condition,
    hash_unit,
    in_namespace,
)
from offerengine.experiments.core import ExperimentFacts, VariantFacts, assign

AT = datetime(2026, 1, 1, tzinfo=UTC)  # a pinned clock: no case has dates
CASES: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "growthbook" / "cases.json").read_text("utf-8")
)

RUN = {"hash", "getBucketRange", "chooseVariation", "inNamespace", "getEqualWeights"}
RUN |= {"evalCondition", "run"}
SKIPPED = {
    "feature": "GrowthBook features are another model than our flags: a default value and rules "
    "(force with coverage, ranges and filters, experiments with inline variations, prerequisites, "
    "tracks) in an SDK payload, where ours have typed values, a rollout block and rules that link "
    "to experiments by key; what they share (conditions, hashing, buckets, experiments) runs in "
    "evalCondition, hash, getBucketRange and run",
    "getQueryStringOverride": "forcing a variation from the page's URL is a browser SDK feature; "
    "the engine is never given a URL",
    "decrypt": "the engine serves no encrypted SDK payload: flags reach clients through its API "
    "and OFREP, over TLS",
    "stickyBucket": "stickiness is server-side here: a unit keeps the variant of its recorded "
    "first exposure; GrowthBook's client-side sticky-bucket documents, bucket versions and "
    "fallback attributes have no counterpart",
    "urlRedirect": "URL redirect experiments are a browser SDK feature",
    "contextualBandit": "the engine's bandits (offerengine.learning) learn from its own events; "
    "GrowthBook's contextual-bandit payload has no counterpart",
}


def test_the_cases_are_the_specification_version_we_claim() -> None:
    assert CASES["specVersion"] == "0.8.0"


def test_every_section_of_the_specification_is_run_or_skipped_for_a_reason() -> None:
    sections = set(CASES) - {"specVersion"}
    assert sections == RUN | set(SKIPPED)


@pytest.mark.parametrize("section", sorted(SKIPPED))
def test_sections_that_do_not_map_onto_the_engine(section: str) -> None:
    pytest.skip(f"{section} ({len(CASES[section])} cases): {SKIPPED[section]}")


def _cases(section: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("case", CASES[section], ids=lambda c: str(c[0])[:80])


@_cases("hash")
def test_hash(case: list[Any]) -> None:
    seed, value, version, expected = case
    assert hash_unit(seed, value, version) == expected


@_cases("getBucketRange")
def test_get_bucket_range(case: list[Any]) -> None:
    _, (n, coverage, weights), expected = case
    ranges = bucket_ranges(n, coverage, weights)
    assert [[round(low, 8), round(high, 8)] for low, high in ranges] == expected


@_cases("chooseVariation")
def test_choose_variation(case: list[Any]) -> None:
    _, n, ranges, expected = case
    assert choose_variation(n, [tuple(r) for r in ranges]) == expected


@_cases("inNamespace")
def test_in_namespace(case: list[Any]) -> None:
    _, unit, (name, start, end), expected = case
    assert in_namespace(unit, (name, start, end)) is expected


@_cases("getEqualWeights")
def test_get_equal_weights(case: list[Any]) -> None:
    n, expected = case
    assert [round(w, 8) for w in equal_weights(n)] == expected


@_cases("evalCondition")
def test_eval_condition(case: list[Any]) -> None:
    _, condition, attributes, expected, *groups = case
    assert eval_condition(attributes, condition, groups[0] if groups else None) is expected


# --- run: GrowthBook's experiments as the engine's ----------------------------------------------

# GrowthBook properties the engine's experiments do not have, and why.
EXPERIMENT_PROPERTIES = {
    "filters": "no filters: namespaces keep experiments apart here",
    "ranges": "bucket ranges come from weights and coverage here, never given",
    "force": "a forced value is a flag's force rule here, not an experiment's",
    "parentConditions": "prerequisite flags are not part of an experiment here",
}
CONTEXT_PROPERTIES = {
    "enabled": "no switch for every experiment at once: an experiment is stopped",
    "forcedVariations": "no forced variation per request: a flag's force rule does that",
    "qaMode": "no QA mode",
    "url": "no URL targeting or overrides",
    "features": "prerequisite flags are not part of an experiment here",
}


def _unsupported(context: dict[str, Any], experiment: dict[str, Any]) -> str | None:
    """Why the engine cannot hold this experiment or context (refused when saved), or None."""
    for key, why in (*CONTEXT_PROPERTIES.items(), *EXPERIMENT_PROPERTIES.items()):
        if key in (context if key in CONTEXT_PROPERTIES else experiment):
            return why
    n = len(experiment["variations"])
    weights = experiment.get("weights")
    if n < 2:
        return "an experiment has at least two variants"
    if weights is not None and (len(weights) != n or not 0.99 <= sum(weights) <= 1.01):
        return "weights are relative here; GrowthBook replaces such weights with equal ones"
    if not 0 <= experiment.get("coverage", 1) <= 1:
        return "coverage outside [0, 1] is refused"
    if experiment.get("hashVersion", 1) not in (1, 2):
        return "an unknown hash version is refused"
    return None


def _facts(experiment: dict[str, Any]) -> ExperimentFacts:
    variations = experiment["variations"]
    weights = experiment.get("weights") or equal_weights(len(variations))
    return ExperimentFacts.make(
        id=uuid.uuid4(),
        key=experiment["key"],
        unit=experiment.get("hashAttribute", "id"),
        status="running" if experiment.get("active", True) else "draft",
        variants=tuple(VariantFacts(str(i), w, {}) for i, w in enumerate(weights)),
        coverage=experiment.get("coverage", 1),
        targeting=experiment.get("condition"),
        namespace=tuple(experiment["namespace"]) if "namespace" in experiment else None,
        seed=experiment.get("seed", experiment["key"]),
        hash_version=experiment.get("hashVersion", 1),
        start=None,
        end=None,
        winner=None,
        version=1,
    )


def _unit_id(attributes: dict[str, Any], attribute: str) -> str | None:
    # GrowthBook hashes the attribute as text; a client sends our assign endpoint that text.
    value = attributes.get(attribute)
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)


@_cases("run")
def test_run(case: list[Any]) -> None:
    _, context, experiment, value, in_experiment, hash_used = case
    why = _unsupported(context, experiment)
    if why is not None:
        pytest.skip(why)
    facts = _facts(experiment)
    attributes = context.get("attributes", {})
    found = assign(
        facts,
        _unit_id(attributes, facts.unit),
        attributes,
        at=AT,
        saved_groups=context.get("savedGroups"),
    )
    assert experiment["variations"][int(found.variant.key)] == value
    assert found.in_experiment is in_experiment
    # Without forced variations, the hash decides exactly when the unit is in the experiment.
    assert found.in_experiment is hash_used
