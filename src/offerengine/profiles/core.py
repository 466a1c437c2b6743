"""Segments as a snapshot holds them, and which ones a profile is in (see
:mod:`offerengine.profiles.segments`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from offerengine.rules import core as rules
from offerengine.rules.facts import convert, flatten
from offerengine.rules.types import ANY


@dataclass(frozen=True, slots=True)
class RuleSegment:
    name: str
    condition: rules.Compiled


@dataclass(frozen=True, slots=True)
class Clusters:
    name: str
    features: tuple[str, ...]
    means: np.ndarray
    scales: np.ndarray
    centroids: np.ndarray  # (k, len(features)), standardised

    def nearest(self, facts: dict[str, Any]) -> int:
        x = (vector(facts, self.features) - self.means) / self.scales
        return int(np.argmin(((self.centroids - x) ** 2).sum(axis=1)))


@dataclass(frozen=True, slots=True)
class SegmentIndex:
    rules: tuple[RuleSegment, ...] = ()
    clusters: tuple[Clusters, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules or self.clusters)


def vector(facts: dict[str, Any], features: Sequence[str]) -> np.ndarray:
    """The profile's features as numbers (missing or not a number: 0)."""
    values = []
    for name in features:
        found = facts.get(f"profile.{name}")
        if isinstance(found, (int, float, Decimal)) and not isinstance(found, bool):
            number = float(found)
            values.append(number if np.isfinite(number) else 0.0)
        else:
            values.append(0.0)
    return np.array(values, dtype=np.float64)


def profile_facts(attributes: dict[str, Any]) -> dict[str, Any]:
    """A stored profile's attributes as the facts segments read (profile.*)."""
    return {
        key: convert(raw, ANY)
        for key, raw in flatten(attributes, "profile.").items()
        if raw is not None
    }


def members(index: SegmentIndex, facts: dict[str, Any]) -> list[str]:
    """The segments a profile with ``facts`` is in."""
    found = []
    with rules.rules_context():
        for segment in index.rules:
            try:
                if bool(segment.condition.evaluate(facts)):
                    found.append(segment.name)
            except rules.EvaluationError:
                continue  # it reads something the profile does not have: not in it
    for clustered in index.clusters:
        found.append(f"{clustered.name}:{clustered.nearest(facts)}")
    return found
