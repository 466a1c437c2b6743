"""The whole run: plan, rank, read the limits, allocate, take the counts, write the file and
record the decisions, timed (see the package's doc).

Separate from the steps because it is the only part that sequences them and owns the
transactions: each step is usable, and tested, on its own.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.decisioning import core, learning
from offerengine.decisioning.batch._allocation import allocate
from offerengine.decisioning.batch._counters import BatchCounters, read_limits, take_counts
from offerengine.decisioning.batch._files import Propensities, output, write_table
from offerengine.decisioning.batch._grouping import PROFILE_COLUMN
from offerengine.decisioning.batch._plan import Plan, Progress, make_plan, quiet
from offerengine.decisioning.batch._ranking import rank_all
from offerengine.decisioning.models import Decision
from offerengine.errors import Invalid
from offerengine.ids import new_time_uuid


@dataclass
class Outcome:
    profiles: int
    propositions: int
    fallbacks: int
    trimmed: int  # items the live counters no longer allowed when the counts were taken
    rank_seconds: float
    allocate_seconds: float
    record_seconds: float
    out: Path

    @property
    def profiles_per_second(self) -> float:
        return self.profiles / max(self.rank_seconds + self.allocate_seconds, 1e-9)


async def decide_batch(
    session_factory: async_sessionmaker[AsyncSession],
    counters: BatchCounters,
    *,
    tenant_id: uuid.UUID,
    settings: Mapping[str, Any],
    activities: Sequence[str],
    table: pa.Table,
    out: Path,
    now: datetime,
    count: int = 1,
    allow_duplicates: bool = False,
    dry_run: bool = False,
    scheduler: str | None = None,
    seed: int | None = None,
    progress: Progress = quiet,
) -> Outcome:
    """Decide for every profile (see the package's doc); write ``out``; take the counts and
    record the decisions unless ``dry_run``."""
    async with session_factory() as session:
        plan, index = await make_plan(session, tenant_id, settings, activities, now, count, seed)
    profiles: list[str] = table.column(PROFILE_COLUMN).to_pylist()
    if len(set(profiles)) != len(profiles):
        raise Invalid("a profile appears twice in the file; one row per profile")
    acts = [index.activities[a] for a in plan.activities]
    with _no_collection():
        return await _decide(
            session_factory,
            counters,
            plan,
            index,
            acts,
            profiles,
            table,
            out,
            tenant_id=tenant_id,
            now=now,
            count=count,
            allow_duplicates=allow_duplicates,
            dry_run=dry_run,
            scheduler=scheduler,
            progress=progress,
        )


@contextmanager
def _no_collection() -> Iterator[None]:
    """The cyclic garbage collector off: a batch makes millions of small objects and no cycles,
    and every full collection would walk all of them (it doubled the time it takes)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


async def _decide(
    session_factory: async_sessionmaker[AsyncSession],
    counters: BatchCounters,
    plan: Plan,
    index: core.DecisioningIndex,
    acts: Sequence[core.ActivityDef],
    profiles: Sequence[str],
    table: pa.Table,
    out: Path,
    *,
    tenant_id: uuid.UUID,
    now: datetime,
    count: int,
    allow_duplicates: bool,
    dry_run: bool,
    scheduler: str | None,
    progress: Progress,
) -> Outcome:
    started = time.perf_counter()
    lists = rank_all(plan, table, progress, scheduler)
    ranked_at = time.perf_counter()
    capped = {
        activity.candidates[j].key: activity.candidates[j]
        for activity, found in zip(acts, lists, strict=True)
        for j in np.unique(found.offers).tolist()
        if activity.candidates[j].caps
    }
    limits = await read_limits(counters, [capped[k] for k in sorted(capped)], profiles)
    allocation = allocate(
        lists, acts, profiles, limits, count=count, allow_duplicates=allow_duplicates
    )
    allocated_at = time.perf_counter()
    progress("allocating", len(profiles), len(profiles))
    offers = {o.key: o for o in index.offers.values()}
    trimmed = 0 if dry_run else await take_counts(counters, allocation, profiles, offers)
    decision_ids = [new_time_uuid() for _ in profiles]
    propensities = Propensities(index, learning.Estimates.of(plan.stats))
    written = output(allocation, lists, profiles, acts, offers, decision_ids, propensities)
    write_table(written.table, out)
    if not dry_run:
        await record(session_factory, tenant_id, written.decisions, now, progress)
    return Outcome(
        profiles=len(profiles),
        propositions=written.table.num_rows,
        fallbacks=written.fallbacks,
        trimmed=trimmed,
        rank_seconds=ranked_at - started,
        allocate_seconds=allocated_at - ranked_at,
        record_seconds=time.perf_counter() - allocated_at,
        out=out,
    )


async def record(
    session_factory: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    decisions: Sequence[dict[str, Any]],
    now: datetime,
    progress: Progress,
) -> None:
    """The decisions, so that feedback can name them (in transactions of 5,000)."""
    for start in range(0, len(decisions), 5000):
        chunk = decisions[start : start + 5000]
        async with session_factory() as session, session.begin():
            connection = await session.connection()  # Core: the ORM's bulk path costs more
            await connection.execute(
                sa.insert(cast(sa.Table, Decision.__table__)),
                [{**d, "tenant_id": tenant_id, "made_at": now} for d in chunk],
            )
        progress("recording", start + len(chunk), len(decisions))


def describe(outcome: Outcome) -> str:
    """The outcome in a line: counts and where the time went."""
    rate = outcome.profiles_per_second
    return (
        f"{outcome.profiles:,} profiles → {outcome.propositions:,} items "
        f"({outcome.fallbacks:,} fallbacks, {outcome.trimmed:,} trimmed by live counts) in "
        f"{outcome.rank_seconds:.2f} s ranking + {outcome.allocate_seconds:.2f} s allocating "
        f"({rate:,.0f} profiles/s) + {outcome.record_seconds:.2f} s counting and recording"
    )
