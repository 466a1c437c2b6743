"""Deterministic assignment, compatible with GrowthBook's SDKs.

A tenant that moves here from GrowthBook keeps every user in the same bucket and every targeting
condition its meaning: the hash, the bucket ranges, the namespace check (``_hashing``) and the
targeting conditions (``_conditions``, checked when saved by ``_checking``) follow GrowthBook's
SDK specification, version 0.8.0, whose own test cases tests/unit/test_growthbook_spec.py runs.

Everything here is pure and allocation-light: flags and experiments call it on every evaluation.
"""

from offerengine.experiments.assignment._checking import Path, condition_errors
from offerengine.experiments.assignment._conditions import (
    CONDITION_OPERATORS,
    VALUE_OPERATORS,
    eval_condition,
    json_type,
    padded_version,
)
from offerengine.experiments.assignment._hashing import (
    bucket_ranges,
    choose_variation,
    equal_weights,
    fnv1a32,
    hash_unit,
    in_namespace,
)

__all__ = [
    "CONDITION_OPERATORS",
    "VALUE_OPERATORS",
    "Path",
    "bucket_ranges",
    "choose_variation",
    "condition_errors",
    "equal_weights",
    "eval_condition",
    "fnv1a32",
    "hash_unit",
    "in_namespace",
    "json_type",
    "padded_version",
]
