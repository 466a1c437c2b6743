"""Ranking: for each activity, each profile's candidates that pass calendar and eligibility, best
first, with their scores — chunk by chunk, in this process or on the Dask cluster.

Separate from allocation because it is the part that may run elsewhere: what a Dask worker runs
(:func:`rank_chunk`) is a top-level function of this module, so that it pickles by reference, and
it reads nothing but the :class:`~._plan.Plan` and the chunk of the profiles file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from offerengine.decisioning import core, learning
from offerengine.decisioning.batch._grouping import GroupedProfiles, rule_columns
from offerengine.decisioning.batch._plan import Plan, Progress, compiled
from offerengine.rules import core as rules

CHUNK = 20_000  # profiles per ranking task


@dataclass(frozen=True)
class CandidateLists:
    """One activity's candidates per profile, best first, compressed by row: profile i's are
    the activity's candidates ``offers[start[i]:start[i + 1]]`` (indices into its candidates),
    with ``scores`` alongside."""

    start: np.ndarray
    offers: np.ndarray
    scores: np.ndarray

    def for_profile(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Profile i's candidates (indices) and their scores."""
        a, b = self.start[i], self.start[i + 1]
        return self.offers[a:b], self.scores[a:b]

    @staticmethod
    def concatenate(parts: Sequence[CandidateLists]) -> CandidateLists:
        """The lists of consecutive chunks as one."""
        starts = [parts[0].start]
        for part in parts[1:]:
            starts.append(part.start[1:] + starts[-1][-1])
        return CandidateLists(
            np.concatenate(starts),
            np.concatenate([p.offers for p in parts]),
            np.concatenate([p.scores for p in parts]),
        )


def rank_all(
    plan: Plan,
    table: pa.Table,
    progress: Progress,
    scheduler: str | None,
) -> list[CandidateLists]:
    """Every profile ranked, chunk by chunk: here, or on the Dask cluster at ``scheduler``."""
    n = table.num_rows
    chunks = [table.slice(i, CHUNK) for i in range(0, n, CHUNK)]
    results: dict[int, list[CandidateLists]] = {}
    done = 0
    if scheduler is None:
        for i, chunk in enumerate(chunks):
            results[i] = rank(replace(plan, seed=_seed(plan, i)), chunk)
            done += chunk.num_rows
            progress("ranking", done, n)
    else:
        from distributed import Client, as_completed

        with Client(scheduler) as client:  # type: ignore[no-untyped-call]
            shared = client.scatter(plan, broadcast=True)
            futures = [
                client.submit(rank_chunk, shared, chunk, i, pure=False)
                for i, chunk in enumerate(chunks)
            ]
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                i, found = future.result()
                results[i] = found
                done += chunks[i].num_rows
                progress("ranking", done, n)
    return [
        CandidateLists.concatenate([results[i][a] for i in range(len(chunks))])
        for a in range(len(plan.activities))
    ]


def _seed(plan: Plan, chunk: int) -> int | None:
    """A seeded plan seeds each chunk differently, and reproducibly wherever it is ranked."""
    return None if plan.seed is None else plan.seed + chunk


def rank_chunk(plan: Plan, table: pa.Table, i: int) -> tuple[int, list[CandidateLists]]:
    """One chunk, on a Dask worker."""
    return i, rank(replace(plan, seed=_seed(plan, i)), table)


def rank(plan: Plan, table: pa.Table) -> list[CandidateLists]:
    """For each activity, each profile's candidates that pass calendar and eligibility, best
    first, with their scores; cut after ``plan.depth`` uncapped ones (no more can be needed)
    except for model ranking, whose propensities need them all."""
    index, estimates = compiled(plan)
    groups = GroupedProfiles(table, plan.now)
    rng = np.random.default_rng(plan.seed)
    with rules.rules_context():
        return [
            _rank(index.activities[a], groups, plan.depth, estimates, rng) for a in plan.activities
        ]


def _rank(
    activity: core.ActivityDef,
    groups: GroupedProfiles,
    depth: int,
    estimates: learning.Estimates,
    rng: np.random.Generator,
) -> CandidateLists:
    closed = activity.off_calendar(groups.now) is not None
    offers = [] if closed else list(activity.candidates)
    ok = _passing(offers, groups)
    scores: np.ndarray
    ordered = False  # whether the candidates' order is the same for every profile
    if activity.model is not None:
        scores = _model_scores(activity, offers, groups.n, estimates, rng)
        depth = len(offers)
    elif activity.formula is not None and activity.scores is None:
        scores = _formula_scores(activity.formula, offers, groups)
        ok &= ~np.isnan(scores)
    else:
        ordered = True
        scores = _fixed_scores(activity, offers, ok)
    return _best_first(offers, ok, scores, ordered, depth)


def _passing(offers: Sequence[core.OfferDef], groups: GroupedProfiles) -> np.ndarray:
    """Per profile and candidate, whether it is within its calendar and its eligibility passes."""
    ok = np.ones((groups.n, len(offers)), dtype=bool)
    for j, offer in enumerate(offers):
        if offer.off_calendar(groups.now) is not None:
            ok[:, j] = False
        elif offer.eligibility is not None:
            ok[:, j] = groups.passes(offer, rule_columns(offer.eligibility) or ())
    return ok


def _model_scores(
    activity: core.ActivityDef,
    offers: Sequence[core.OfferDef],
    n: int,
    estimates: learning.Estimates,
    rng: np.random.Generator,
) -> np.ndarray:
    """Each profile's rates, drawn in one call (or the posterior means), × value − cost."""
    model = activity.model
    assert model is not None
    k = len(offers)
    params = np.array(
        [estimates.posterior(o.id, activity.placement_key, model) for o in offers] or [(1.0, 1.0)]
    )[:k]
    worth = np.array([o.worth for o in offers])
    cost = np.array([o.cost for o in offers])
    if model.policy == "mean":
        return np.broadcast_to(params[:, 0] / params.sum(axis=1) * worth - cost, (n, k))
    scores: np.ndarray = rng.beta(params[:, 0], params[:, 1], size=(n, k)) * worth - cost
    return scores


def _formula_scores(
    formula: rules.Compiled, offers: Sequence[core.OfferDef], groups: GroupedProfiles
) -> np.ndarray:
    """Per profile and candidate, the formula's score (NaN where it fails)."""
    names = rule_columns(formula) or ()
    scores: np.ndarray = np.column_stack(
        [groups.scores(formula, o, names) for o in offers] or [np.empty(groups.n)]
    )[:, : len(offers)]
    return scores


def _fixed_scores(
    activity: core.ActivityDef, offers: Sequence[core.OfferDef], ok: np.ndarray
) -> np.ndarray:
    """The same scores for every profile: priorities, or a static formula's (a candidate it fails
    for is out, in ``ok``)."""
    fixed = activity.scores
    row = []
    for j, o in enumerate(offers):
        score = o.priority if fixed is None else fixed[o.id]
        if isinstance(score, str):  # a static formula that fails for this offer
            ok[:, j] = False
            score = 0
        row.append(float(score))
    return np.broadcast_to(np.array(row, dtype=float), ok.shape)


def _best_first(
    offers: Sequence[core.OfferDef],
    ok: np.ndarray,
    scores: np.ndarray,
    ordered: bool,
    depth: int,
) -> CandidateLists:
    """The passing candidates best first, cut after ``depth`` uncapped ones."""
    n, k = ok.shape
    if ordered:
        order = np.broadcast_to(np.arange(k), (n, k))
    else:  # best first; ties keep the candidates' order (priority, name, id)
        order = np.argsort(np.where(ok, -scores, np.inf), axis=1, kind="stable")
    ok = np.take_along_axis(ok, order, axis=1)
    uncapped = ok & ~np.array([bool(o.caps) for o in offers], dtype=bool)[order]
    before = np.cumsum(uncapped, axis=1) - uncapped
    keep = ok & (before < depth)
    rows, at = np.nonzero(keep)
    chosen = order[rows, at]
    return CandidateLists(
        np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int64),
        chosen.astype(np.int32),
        np.ascontiguousarray(scores)[rows, chosen].astype(float),
    )
