"""The batch's files: the profiles read from Parquet or CSV, and the decisions written back — one
row per item, the fallback included — with the decision rows recorded beside them.

Separate from ranking and allocation because it is the only part that knows the output's
columns and how an allocation becomes items (fallbacks, model-ranked items' propensities).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from offerengine.decisioning import core, learning
from offerengine.decisioning.batch._allocation import Allocation, ChosenOffers
from offerengine.decisioning.batch._grouping import PROFILE_COLUMN
from offerengine.decisioning.batch._ranking import CandidateLists
from offerengine.errors import Invalid

OUTPUT_COLUMNS = (
    "decision_id",
    "profile_id",
    "activity_id",
    "activity",
    "placement_id",
    "rank",
    "offer_id",
    "offer",
    "fallback",
    "score",
    "propensity",
)
# One item of a proposition: offer key, offer name, fallback, score, propensity.
_Item = tuple[str, str, bool, float | None, float | None]


def read_profiles(path: Path) -> pa.Table:
    """Profiles from a Parquet or CSV file: a ``profile_id`` column, attribute columns, and
    ``context.*`` columns for the request context."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        found = pq.read_table(path)
    elif suffix == ".csv":
        found = pacsv.read_csv(path)
    else:
        raise Invalid(f"{path.name}: profiles are read from .parquet or .csv files")
    if PROFILE_COLUMN not in found.column_names:
        raise Invalid(f"{path.name} has no {PROFILE_COLUMN!r} column")
    ids = found.column(PROFILE_COLUMN)
    if ids.null_count:
        raise Invalid(f"{path.name}: every row needs a {PROFILE_COLUMN}")
    at = found.column_names.index(PROFILE_COLUMN)
    return found.set_column(at, PROFILE_COLUMN, ids.cast(pa.string()))


def write_table(found: pa.Table, out: Path) -> None:
    """The table to ``out``: CSV for a .csv name, else Parquet."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        pacsv.write_csv(found, out)
    else:
        pq.write_table(found, out)


class Propensities:
    """The propensity of a model-ranked item, given the candidates in the running: the profile's
    passing candidates not already picked for the activity (caps and de-duplication are not
    known to the policy here). Computed once per distinct pool, which profiles of a group share."""

    def __init__(self, index: core.DecisioningIndex, estimates: learning.Estimates) -> None:
        self._index = index
        self._estimates = estimates
        self._rng = np.random.default_rng()
        self._known: dict[tuple[uuid.UUID, frozenset[str], str], float] = {}

    def propensity(self, activity: core.ActivityDef, pool: frozenset[str], chosen: str) -> float:
        """How likely the activity's model was to pick ``chosen`` from ``pool``."""
        model = activity.model
        assert model is not None
        if model.policy == "mean" or len(pool) < 2:
            return 1.0
        key = (activity.id, pool, chosen)
        found = self._known.get(key)
        if found is None:
            candidates = [
                core.Candidate(
                    offer,
                    0.0,
                    None,
                    self._estimates.posterior(offer.id, activity.placement_key, model),
                )
                for offer in (self._index.offers[uuid.UUID(k)] for k in sorted(pool))
            ]
            picked = next(c for c in candidates if c.offer.key == chosen)
            found = core.propensity(model, candidates, picked, self._rng)
            self._known[key] = found
        return found


@dataclass
class BatchOutput:
    """The output file's table (one row per item), the decision rows to record, and how many
    propositions fell back."""

    table: pa.Table
    decisions: list[dict[str, Any]]
    fallbacks: int


def output(
    allocation: Allocation,
    lists: Sequence[CandidateLists],
    profiles: Sequence[str],
    activities: Sequence[core.ActivityDef],
    offers: Mapping[str, core.OfferDef],
    decision_ids: Sequence[uuid.UUID],
    propensities: Propensities,
) -> BatchOutput:
    """The output rows (one per item, the fallback included), and the decision rows."""
    rows: list[tuple[Any, ...]] = []
    decisions: list[dict[str, Any]] = []
    fallbacks = 0
    for p, profile in enumerate(profiles):
        propositions = []
        decision_id = str(decision_ids[p])
        for a, activity in enumerate(activities):
            items = _items(allocation.chosen[a][p], activity, lists[a], p, offers, propensities)
            if not items:
                fallbacks += 1
                fallback = activity.fallback
                items = [(str(fallback.id), fallback.name, True, None, None)]
            for position, (key, name, is_fallback, score, chance) in enumerate(items, 1):
                rows.append(
                    (
                        decision_id,
                        profile,
                        activity.key,
                        activity.name,
                        activity.placement_key,
                        position,
                        key,
                        name,
                        is_fallback,
                        score,
                        chance,
                    )
                )
                propositions.append(_proposition(activity, key, score, is_fallback, chance))
        decisions.append(
            {"id": decision_ids[p], "profile_id": profile, "propositions": propositions}
        )
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in OUTPUT_COLUMNS]
    table = pa.table(dict(zip(OUTPUT_COLUMNS, map(list, columns), strict=True)))
    return BatchOutput(table, decisions, fallbacks)


def _items(
    picks: ChosenOffers,
    activity: core.ActivityDef,
    found: CandidateLists,
    p: int,
    offers: Mapping[str, core.OfferDef],
    propensities: Propensities,
) -> list[_Item]:
    """The offers allocated to profile ``p`` for the activity, as items; a model-ranked item's
    propensity among the candidates not picked before it."""
    pool = None
    if activity.model is not None:
        pool = frozenset(activity.candidates[j].key for j in found.for_profile(p)[0])
    items: list[_Item] = []
    for key, picked in picks:
        chance = None
        if pool is not None:
            chance = propensities.propensity(activity, pool, key)
            pool = pool - {key}
        items.append((key, offers[key].name, False, picked, chance))
    return items


def _proposition(
    activity: core.ActivityDef,
    key: str,
    score: float | None,
    is_fallback: bool,
    chance: float | None,
) -> dict[str, Any]:
    """An item as the decision row records it."""
    proposition: dict[str, Any] = {
        "activity_id": activity.key,
        "placement_id": activity.placement_key,
        "offer_id": key,
        "score": score,
        "fallback": is_fallback,
    }
    if chance is not None:
        proposition["propensity"] = chance
    return proposition
