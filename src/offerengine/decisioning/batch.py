"""Batch decisioning: decide for every profile of a file, honouring caps across the batch.

Two phases. **Ranking** (in-process, or on a Dask cluster): profiles are grouped by the values of
the facts their activities' rules read — a tier, a route — so that calendar, eligibility and
ranking run once per group, not once per profile; model ranking draws each profile's rates in one
numpy call per group. **Allocation** (here): per activity, in the order given, each profile takes
its best candidates; an offer whose global decision cap has fewer units left than profiles wanting
it goes to the highest scores (Gale–Shapley with profiles proposing: a profile bumped by a higher
score moves on to its next candidate; equal scores go to the earlier row). Per-profile caps and
de-duplication across activities hold as in a request. The counts are then taken from the live
counters — atomically, never past a limit: units live decisions took meanwhile are taken from the
lowest scores, who get the fallback — and the decisions are recorded (unless a dry run) so that
feedback can name them.
"""

from __future__ import annotations

import gc
import heapq
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine.db import upsert
from offerengine.decisioning import core, counting, learning
from offerengine.decisioning import service as configuration
from offerengine.decisioning.models import CapCounter, CapEvent, Decision, DecisioningObject
from offerengine.errors import Invalid
from offerengine.ids import new_time_uuid
from offerengine.rules import core as rules

PROFILE_COLUMN = "profile_id"
CONTEXT_PREFIX = "context."
CHUNK = 20_000  # profiles per ranking task
Ranked = list[tuple[str, float]]  # (offer key, score), best first


# --- what every ranking worker needs (picklable) ------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The tenant's decisioning configuration as rows, the feedback counts, the activities and
    the batch's clock: everything a worker needs to rank, without a database."""

    key: str
    settings: Mapping[str, Any]
    objects: Sequence[Mapping[str, Any]]
    stats: Mapping[tuple[uuid.UUID, str], learning.Counts]
    activities: Sequence[uuid.UUID]
    now: datetime
    depth: int  # uncapped candidates to keep per list: enough for every activity's items
    seed: int | None = None


_compiled: dict[str, tuple[core.DecisioningIndex, learning.Estimates]] = {}


def compiled(plan: Plan) -> tuple[core.DecisioningIndex, learning.Estimates]:
    """The plan's index, compiled once per process."""
    found = _compiled.get(plan.key)
    if found is None:
        objects = [DecisioningObject(**row) for row in plan.objects]
        found = (
            configuration.compile_index(objects, plan.settings),
            learning.Estimates.of(plan.stats),
        )
        _compiled.clear()
        _compiled[plan.key] = found
    return found


def _column(fact: str) -> str:
    """The profile file's column a profile or context fact is read from."""
    if fact == "profile.id":
        return PROFILE_COLUMN
    if fact.startswith("context."):
        return fact
    return fact.removeprefix("profile.")


def _columns(rule: rules.Compiled | None) -> tuple[str, ...] | None:
    if rule is None:
        return None
    return tuple(sorted({_column(f) for f in rule.facts if f.startswith(("profile.", "context."))}))


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _dig(value: Any, path: str) -> Any:
    """``address.country`` inside a struct column's value."""
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _codes_of(table: pa.Table, name: str) -> np.ndarray:
    """Per row, a number for the column's value (equal values, equal numbers; null: -1).
    Scalar columns are dictionary-encoded by Arrow; lists and structs are hashed here, and a
    dotted name that is no column is looked for in a struct column."""
    if name in table.column_names:
        column = table.column(name).combine_chunks()
        kind = column.type
        if not (pa.types.is_nested(kind) or pa.types.is_null(kind)):
            encoded = column.dictionary_encode()
            return np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False))
        values = [_hashable(v) for v in column.to_pylist()]
    else:
        head, _, rest = name.partition(".")
        if head not in table.column_names or not rest:
            return np.full(table.num_rows, -1, dtype=np.int64)
        values = [_hashable(_dig(v, rest)) for v in table.column(head).to_pylist()]
    known: dict[Any, int] = {}
    return np.fromiter(
        (known.setdefault(v, len(known)) for v in values), dtype=np.int64, count=len(values)
    )


def _request(row: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    attributes: dict[str, Any] = {}
    context: dict[str, Any] = {}
    for name, value in row.items():
        if name == PROFILE_COLUMN or value is None:
            continue
        if name.startswith(CONTEXT_PREFIX):
            context[name.removeprefix(CONTEXT_PREFIX)] = value
        else:
            attributes[name] = value
    return str(row[PROFILE_COLUMN]), attributes, context


@dataclass(frozen=True)
class Lists:
    """One activity's candidates per profile, best first, compressed by row: profile i's are
    the activity's candidates ``offers[start[i]:start[i + 1]]`` (indices into its candidates),
    with ``scores`` alongside."""

    start: np.ndarray
    offers: np.ndarray
    scores: np.ndarray

    def of(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.start[i], self.start[i + 1]
        return self.offers[a:b], self.scores[a:b]

    @staticmethod
    def join(parts: Sequence[Lists]) -> Lists:
        starts = [parts[0].start]
        for part in parts[1:]:
            starts.append(part.start[1:] + starts[-1][-1])
        return Lists(
            np.concatenate(starts),
            np.concatenate([p.offers for p in parts]),
            np.concatenate([p.scores for p in parts]),
        )


class _Chunk:
    """A chunk of profiles being ranked: each distinct combination of the values a rule reads is
    judged once (codes per combination, shared by the rules that read the same columns)."""

    def __init__(self, table: pa.Table, now: datetime) -> None:
        self.table = table
        self.n = table.num_rows
        self.now = now
        self._columns: dict[str, np.ndarray] = {}
        self._codes: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._facts: dict[int, dict[str, Any]] = {}

    def column(self, name: str) -> np.ndarray:
        found = self._columns.get(name)
        if found is None:
            found = _codes_of(self.table, name)
            self._columns[name] = found
        return found

    def codes(self, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the code of its combination of these columns' values; per code, a row
        that has it."""
        found = self._codes.get(names)
        if found is None:
            combined = np.zeros(self.n, dtype=np.int64)
            size = 1
            for name in names:  # mixed radix: each column's codes (from -1) as one digit
                digits = self.column(name) + 1
                width = int(digits.max(initial=0)) + 1
                if size * width > 4 * self.n + 1024:  # too sparse to index: compact first
                    _, combined = np.unique(combined, return_inverse=True)
                    size = int(combined.max(initial=0)) + 1
                combined = combined * width + digits
                size *= width
            present = np.zeros(size, dtype=bool)
            present[combined] = True
            codes = (np.cumsum(present) - 1)[combined]
            first = np.full(int(present.sum()), -1, dtype=np.int64)
            first[codes[::-1]] = np.arange(self.n - 1, -1, -1)
            found = (codes, first)
            self._codes[names] = found
        return found

    def facts(self, row: int) -> dict[str, Any]:
        found = self._facts.get(row)
        if found is None:
            found = core.request_facts(*_request(self.table.slice(row, 1).to_pylist()[0]), self.now)
            self._facts[row] = found
        return found

    def passes(self, offer: core.OfferDef, names: tuple[str, ...]) -> np.ndarray:
        codes, first = self.codes(names)
        truth = np.fromiter(
            (core.eligible(offer, self.facts(int(r))) for r in first), dtype=bool, count=len(first)
        )
        passed: np.ndarray = truth[codes]
        return passed

    def scores(
        self, formula: rules.Compiled, offer: core.OfferDef, names: tuple[str, ...]
    ) -> np.ndarray:
        codes, first = self.codes(names)
        values = np.empty(len(first))
        for u, r in enumerate(first):
            try:
                values[u] = float(formula.evaluate({**self.facts(int(r)), **offer.facts}))
            except rules.EvaluationError:
                values[u] = np.nan
        scored: np.ndarray = values[codes]
        return scored


def rank(plan: Plan, table: pa.Table) -> list[Lists]:
    """For each activity, each profile's candidates that pass calendar and eligibility, best
    first, with their scores; cut after ``plan.depth`` uncapped ones (no more can be needed)
    except for model ranking, whose propensities need them all."""
    index, estimates = compiled(plan)
    chunk = _Chunk(table, plan.now)
    rng = np.random.default_rng(plan.seed)
    with rules.rules_context():
        return [
            _rank(index.activities[a], chunk, plan.depth, estimates, rng) for a in plan.activities
        ]


def _rank(
    activity: core.ActivityDef,
    chunk: _Chunk,
    depth: int,
    estimates: learning.Estimates,
    rng: np.random.Generator,
) -> Lists:
    n = chunk.n
    closed = activity.off_calendar(chunk.now) is not None
    offers = [] if closed else list(activity.candidates)
    k = len(offers)
    ok = np.ones((n, k), dtype=bool)
    for j, offer in enumerate(offers):
        if offer.off_calendar(chunk.now) is not None:
            ok[:, j] = False
        elif offer.eligibility is not None:
            ok[:, j] = chunk.passes(offer, _columns(offer.eligibility) or ())
    scores: np.ndarray
    ordered = False  # whether the candidates' order is the same for every profile
    if activity.model is not None:
        model = activity.model
        params = np.array(
            [estimates.posterior(o.id, activity.placement_key, model) for o in offers]
            or [(1.0, 1.0)]
        )[:k]
        worth = np.array([o.worth for o in offers])
        cost = np.array([o.cost for o in offers])
        if model.policy == "mean":
            scores = np.broadcast_to(params[:, 0] / params.sum(axis=1) * worth - cost, (n, k))
        else:
            scores = rng.beta(params[:, 0], params[:, 1], size=(n, k)) * worth - cost
        depth = k
    elif activity.formula is not None and activity.scores is None:
        names = _columns(activity.formula) or ()
        scores = np.column_stack(
            [chunk.scores(activity.formula, o, names) for o in offers] or [np.empty(n)]
        )[:, :k]
        ok &= ~np.isnan(scores)
    else:
        ordered = True
        fixed = activity.scores
        row = []
        for j, o in enumerate(offers):
            score = o.priority if fixed is None else fixed[o.id]
            if isinstance(score, str):  # a static formula that fails for this offer
                ok[:, j] = False
                score = 0
            row.append(float(score))
        scores = np.broadcast_to(np.array(row, dtype=float), (n, k))
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
    return Lists(
        np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int64),
        chosen.astype(np.int32),
        np.ascontiguousarray(scores)[rows, chosen].astype(float),
    )


# --- the counters, in bulk ----------------------------------------------------------------------


class BatchCounters(Protocol):
    async def read(
        self, offer: core.OfferDef, cap: core.Cap, subjects: Sequence[str]
    ) -> dict[str, int]:
        """The current counts of the cap for the subjects ('' for a global cap)."""

    async def take(
        self, offer: core.OfferDef, cap: core.Cap, wanted: Mapping[str, int]
    ) -> dict[str, int]:
        """Count up to ``n`` per subject against the cap, never past its limit: how many were
        counted per subject."""


_IN = 2000  # subjects looked up by name; more, and the cap's counts are read whole


class SqlBatchCounters:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tenant_id: uuid.UUID,
        now: datetime,
        *,
        is_sqlite: bool,
    ) -> None:
        self._sessions = session_factory
        self._tenant_id = tenant_id
        self._now = now
        self._is_sqlite = is_sqlite

    def _key(self, offer: core.OfferDef, cap: core.Cap, subject: str) -> dict[str, Any]:
        return {
            "tenant_id": self._tenant_id,
            "offer_id": offer.id,
            "cap_key": cap.key,
            "subject": subject,
            "bucket": cap.bucket(self._now),
        }

    async def read(
        self, offer: core.OfferDef, cap: core.Cap, subjects: Sequence[str]
    ) -> dict[str, int]:
        """Counts for a few subjects are looked up; for many, the cap's counts are read whole
        (one query, filtered here)."""
        if cap.rolling:
            since = self._now - timedelta(seconds=cap.seconds)
            stmt = (
                sa.select(CapEvent.subject, sa.func.count())
                .where(
                    CapEvent.tenant_id == self._tenant_id,
                    CapEvent.offer_id == offer.id,
                    CapEvent.cap_key == cap.key,
                    CapEvent.at > since,
                )
                .group_by(CapEvent.subject)
            )
            subject = CapEvent.subject
        else:
            stmt = sa.select(CapCounter.subject, CapCounter.count).where(
                CapCounter.tenant_id == self._tenant_id,
                CapCounter.offer_id == offer.id,
                CapCounter.cap_key == cap.key,
                CapCounter.bucket == cap.bucket(self._now),
            )
            subject = CapCounter.subject
        found: dict[str, int] = {}
        async with self._sessions() as session:
            if len(subjects) > _IN:
                wanted = set(subjects)
                rows = await session.execute(stmt)
                return {s: int(c) for s, c in rows if s in wanted}
            rows = await session.execute(stmt.where(subject.in_(list(subjects))))
            found.update({s: int(c) for s, c in rows})
        return found

    async def take(
        self, offer: core.OfferDef, cap: core.Cap, wanted: Mapping[str, int]
    ) -> dict[str, int]:
        got: dict[str, int] = {}
        async with self._sessions() as session:
            if self._is_sqlite:  # the write lock up front
                await session.connection(execution_options={"sqlite_immediate": True})
            if not cap.rolling and len(wanted) > 1:
                got = await self._take_all(session, offer, cap, wanted)
            for subject, n in wanted.items():
                if subject not in got:
                    got[subject] = await self._take_one(
                        session, self._key(offer, cap, subject), cap, n
                    )
            await session.commit()
        return got

    async def _take_all(
        self, session: AsyncSession, offer: core.OfferDef, cap: core.Cap, wanted: Mapping[str, int]
    ) -> dict[str, int]:
        """Every subject's count in one statement per thousand (a conditional upsert returning
        the subjects it counted); the others are left to :meth:`_take_one`."""
        got: dict[str, int] = {}
        items = list(wanted.items())
        for start in range(0, len(items), 1000):
            chunk = items[start : start + 1000]
            table = CapCounter.__table__
            stmt = upsert.insert(session, table)
            stmt = stmt.on_conflict_do_update(
                index_elements=list(counting.KEY),
                set_={"count": table.c.count + stmt.excluded.count},
                where=table.c.count + stmt.excluded.count <= cap.limit,
            ).returning(table.c.subject)
            # Core, not the ORM's bulk path: the rows need no objects.
            connection = await session.connection()
            rows = await connection.execute(
                stmt, [{**self._key(offer, cap, subject), "count": n} for subject, n in chunk]
            )
            counted = set(rows.scalars())
            got.update({subject: n for subject, n in chunk if subject in counted})
        return got

    async def _take_one(
        self, session: AsyncSession, key: dict[str, Any], cap: core.Cap, n: int
    ) -> int:
        if cap.rolling:
            await counting.lock(session, key)
            held = await counting.rolling_count(session, key, cap, self._now, prune=True)
            n = min(n, cap.limit - held)
            if n > 0:
                await session.execute(
                    sa.insert(CapEvent), [counting.cap_event(key, self._now) for _ in range(n)]
                )
            return max(n, 0)
        while n > 0:
            stmt = (
                upsert.insert(session, CapCounter)
                .values(**key, count=n)
                .on_conflict_do_update(
                    index_elements=list(counting.KEY),
                    set_={"count": CapCounter.count + n},
                    where=CapCounter.count + n <= cap.limit,
                )
                .returning(CapCounter.count)
            )
            if (await session.execute(stmt)).first() is not None:
                return n
            current = await session.scalar(
                sa.select(CapCounter.count).where(
                    *(getattr(CapCounter, name) == key[name] for name in counting.KEY)
                )
            )
            n = min(n, cap.limit - int(current or 0))
        return 0


# KEYS[1]: the counter. ARGV: limit, n, ttl seconds or window ms, rolling 1|0, now ms, member
# prefix. Counts what fits under the limit, returns how many.
_TAKE = """
local limit, n, span = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = tonumber(ARGV[5])
local held
if ARGV[4] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
  held = redis.call('ZCARD', KEYS[1])
else
  held = tonumber(redis.call('GET', KEYS[1]) or '0')
end
if held + n > limit then n = limit - held end
if n <= 0 then return 0 end
if ARGV[4] == '1' then
  for i = 1, n do redis.call('ZADD', KEYS[1], now, ARGV[6] .. ':' .. i) end
  redis.call('PEXPIRE', KEYS[1], span)
else
  local count = redis.call('INCRBY', KEYS[1], n)
  if count == n and span > 0 then redis.call('EXPIRE', KEYS[1], span) end
end
return n
"""


class RedisBatchCounters:
    def __init__(self, redis: Redis, prefix: str, tenant_id: uuid.UUID, now: datetime) -> None:
        self._redis = redis
        self._prefix = prefix
        self._tenant_id = tenant_id
        self._now = now

    def _name(self, offer: core.OfferDef, cap: core.Cap, subject: str) -> str:
        key = counting.counter_key(self._tenant_id, offer.id, cap, subject, self._now)
        return counting.redis_key(self._prefix, key)

    async def read(
        self, offer: core.OfferDef, cap: core.Cap, subjects: Sequence[str]
    ) -> dict[str, int]:
        found: dict[str, int] = {}
        since = counting.ms(self._now) - cap.seconds * 1000 if cap.rolling else 0
        for start in range(0, len(subjects), 5000):
            chunk = list(subjects[start : start + 5000])
            async with self._redis.pipeline(transaction=False) as pipe:
                for subject in chunk:
                    name = self._name(offer, cap, subject)
                    if cap.rolling:
                        pipe.zcount(name, f"({since}", "+inf")
                    else:
                        pipe.get(name)
                counts = await pipe.execute()
            found.update({s: int(c or 0) for s, c in zip(chunk, counts, strict=True) if c})
        return found

    async def take(
        self, offer: core.OfferDef, cap: core.Cap, wanted: Mapping[str, int]
    ) -> dict[str, int]:
        span = cap.seconds * 1000 if cap.rolling else counting.ttl(cap)
        now = counting.ms(self._now)
        got: dict[str, int] = {}
        items = list(wanted.items())
        for start in range(0, len(items), 5000):
            chunk = items[start : start + 5000]
            async with self._redis.pipeline(transaction=False) as pipe:
                for subject, n in chunk:
                    pipe.eval(
                        _TAKE,
                        1,
                        self._name(offer, cap, subject),
                        cap.limit,
                        n,
                        span,
                        1 if cap.rolling else 0,
                        now,
                        uuid.uuid4().hex,
                    )
                counted = await pipe.execute()
            got.update({s: int(c) for (s, _), c in zip(chunk, counted, strict=True)})
        return got


# --- allocation ---------------------------------------------------------------------------------


@dataclass
class Limits:
    """What the counters allow before the batch: units left under each offer's global decision
    caps; offers out for everyone (a global event cap reached); per profile, the units left under
    profile decision caps — ``profile_limit`` for a profile not counted yet, ``profile_left`` for
    one that is — and the offers out for a profile (a profile event cap reached)."""

    global_left: dict[str, int] = field(default_factory=dict)
    out: set[str] = field(default_factory=set)
    profile_limit: dict[str, int] = field(default_factory=dict)  # offer → its smallest limit
    profile_left: dict[tuple[str, str], int] = field(default_factory=dict)  # (offer, profile)
    profile_out: set[tuple[str, str]] = field(default_factory=set)


async def read_limits(
    counters: BatchCounters, offers: Iterable[core.OfferDef], profiles: Sequence[str]
) -> Limits:
    limits = Limits()
    for offer in offers:
        per_profile: list[tuple[core.Cap, dict[str, int]]] = []
        for cap in offer.caps:
            if cap.scope == "global":
                held = (await counters.read(offer, cap, [""])).get("", 0)
                if cap.event == "decision":
                    left = max(cap.limit - held, 0)
                    limits.global_left[offer.key] = min(
                        left, limits.global_left.get(offer.key, left)
                    )
                elif held >= cap.limit:
                    limits.out.add(offer.key)
                continue
            held_by = await counters.read(offer, cap, profiles)
            if cap.event == "decision":
                per_profile.append((cap, held_by))
            else:
                limits.profile_out.update(
                    (offer.key, p) for p, held in held_by.items() if held >= cap.limit
                )
        if per_profile:
            limits.profile_limit[offer.key] = min(cap.limit for cap, _ in per_profile)
            counted = set().union(*(held_by for _, held_by in per_profile))
            for profile in counted:
                limits.profile_left[(offer.key, profile)] = min(
                    cap.limit - held_by.get(profile, 0) for cap, held_by in per_profile
                )
    return limits


@dataclass
class Allocation:
    """Per activity, per profile: the offers chosen (key, score), best first."""

    chosen: list[list[Ranked]]


def allocate(
    lists: Sequence[Lists],
    activities: Sequence[core.ActivityDef],
    profiles: Sequence[str],
    limits: Limits,
    *,
    count: int,
    allow_duplicates: bool,
) -> Allocation:
    """Give each profile, activity after activity, its best ``count`` candidates that its caps,
    the global caps (highest scores first) and de-duplication allow (see the module's doc).

    With one item per activity, a profile whose best candidate is uncapped and not proposed to
    it already simply gets it (found for all profiles at once); the others go through the
    proposals one by one."""
    n = len(profiles)
    ids: dict[str, int] = {}  # offer key → a number, for de-duplication across activities
    taken = np.full((n, len(activities)), -1, dtype=np.int64)  # count == 1: the offer numbers
    earlier: list[set[int]] = [set() for _ in range(n)] if count > 1 else []
    profile_left = dict(limits.profile_left)
    global_left = dict(limits.global_left)
    # The rows of profiles some cap of an offer already counts (or rules out), by offer.
    row_of = {profile: i for i, profile in enumerate(profiles)}
    counted: dict[str, list[int]] = {}
    for key, profile in [*limits.profile_left, *limits.profile_out]:
        counted.setdefault(key, []).append(row_of[profile])
    chosen: list[list[Ranked]] = []
    for a, (found, activity) in enumerate(zip(lists, activities, strict=True)):
        keys = [o.key for o in activity.candidates]
        number = [ids.setdefault(key, len(ids)) for key in keys]
        capped = [bool(o.caps) for o in activity.candidates]
        picks: list[Ranked] = [[] for _ in range(n)]
        bounds = found.start.tolist()
        has = found.start[1:] > found.start[:-1]
        slow = np.flatnonzero(has)
        if count == 1 and len(found.offers):
            # Taken at once: a best candidate without caps, or with profile caps only (the
            # profile's first unit: it cannot take the offer twice here) for a profile not
            # counted yet — unless it is proposed to the profile already.
            simple = np.array(
                [
                    not o.caps
                    or (
                        o.key not in global_left
                        and o.key not in limits.out
                        and not allow_duplicates
                        and limits.profile_limit.get(o.key, 1) >= 1
                    )
                    for o in activity.candidates
                ]
            )
            at = np.minimum(found.start[:-1], len(found.offers) - 1)
            first = found.offers[at]
            fast = has & simple[first]
            for j, key in enumerate(keys):
                if capped[j] and simple[j] and key in counted:
                    rows_counted = np.array(counted[key])
                    fast[rows_counted[first[rows_counted] == j]] = False
            if not allow_duplicates and a:
                fast &= ~(taken[:, :a] == np.array(number)[first][:, None]).any(axis=1)
            rows = np.flatnonzero(fast)
            firsts = first[rows].tolist()
            scores = found.scores[at[rows]].tolist()
            for i, j, score in zip(rows.tolist(), firsts, scores, strict=True):
                picks[i] = [(keys[j], score)]
            taken[rows, a] = np.array(number)[first[rows]]
            slow = np.flatnonzero(has & ~fast)
        offers_of = found.offers.tolist()
        scores_of = found.scores.tolist()
        before = taken[:, :a].tolist() if count == 1 and a and not allow_duplicates else None
        holders: dict[str, list[tuple[float, int]]] = {}  # offer → min-heap of (score, -row)
        pointer = {p: bounds[p] for p in slow.tolist()}
        queue = slow[::-1].tolist()
        while queue:
            p = queue.pop()
            end = bounds[p + 1]
            profile = profiles[p]
            mine = picks[p]
            while len(mine) < count and pointer[p] < end:
                j = offers_of[pointer[p]]
                score = scores_of[pointer[p]]
                pointer[p] += 1
                key = keys[j]
                if key in limits.out:
                    continue
                if not allow_duplicates and (
                    (before is not None and number[j] in before[p])
                    or (earlier and number[j] in earlier[p])
                ):
                    continue
                if capped[j]:
                    if (key, profile) in limits.profile_out:
                        continue
                    mine_left = profile_left.get((key, profile))
                    if mine_left is None and key in limits.profile_limit:
                        mine_left = profile_left[(key, profile)] = limits.profile_limit[key]
                    if mine_left is not None and mine_left <= 0:
                        continue
                    left = global_left.get(key)
                    if left is not None:
                        if left <= 0:
                            continue
                        heap = holders.setdefault(key, [])
                        heapq.heappush(heap, (score, -p))
                        if len(heap) > left:
                            loser = -heapq.heappop(heap)[1]
                            if loser == p:
                                continue
                            picks[loser] = [(k, s) for k, s in picks[loser] if k != key]
                            if (key, profiles[loser]) in profile_left:
                                profile_left[(key, profiles[loser])] += 1
                            queue.append(loser)
                    if (key, profile) in profile_left:
                        profile_left[(key, profile)] -= 1
                mine.append((key, score))
        for p in slow.tolist():
            if count == 1:
                taken[p, a] = number[keys.index(picks[p][0][0])] if picks[p] else -1
            else:
                earlier[p].update(ids[k] for k, _ in picks[p])
        chosen.append(picks)
        for key, heap in holders.items():
            global_left[key] -= len(heap)
    return Allocation(chosen)


# --- the whole run ------------------------------------------------------------------------------


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


class Progress(Protocol):
    def __call__(self, phase: str, done: int, total: int) -> None: ...


def _quiet(phase: str, done: int, total: int) -> None:
    return None


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


def resolve_activities(index: core.DecisioningIndex, named: Sequence[str]) -> list[uuid.UUID]:
    """Activities by id or name; one that does not take part is an error saying why."""
    found: list[uuid.UUID] = []
    by_name = {a.name: a.id for a in index.activities.values()}
    for name in named:
        try:
            activity_id: uuid.UUID | None = uuid.UUID(name)
        except ValueError:
            activity_id = by_name.get(name)
        if activity_id is None or activity_id not in index.activities:
            why = index.idle.get(activity_id) if activity_id else None
            raise Invalid(why or f"no approved activity {name!r}")
        if activity_id in found:
            raise Invalid(f"activity {name!r} is named twice")
        if index.activities[activity_id].contextual is not None:
            # A bandit learns from each decision's feedback and logs its propensities per
            # request; a batch ranks whole columns at once and would learn nothing from them.
            raise Invalid(
                f"activity {name!r} ranks by a contextual bandit: decide its profiles through "
                "POST /v1/decisions, which logs what the bandit learns from"
            )
        found.append(activity_id)
    return found


async def make_plan(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    settings: Mapping[str, Any],
    activities: Sequence[str],
    now: datetime,
    count: int,
    seed: int | None,
) -> tuple[Plan, core.DecisioningIndex]:
    rows = (
        await session.scalars(
            sa.select(DecisioningObject).where(DecisioningObject.tenant_id == tenant_id)
        )
    ).all()
    objects = [
        {
            "id": o.id,
            "tenant_id": o.tenant_id,
            "kind": o.kind,
            "name": o.name,
            "status": o.status,
            "body": o.body,
            "version": o.version,
        }
        for o in rows
    ]
    index = configuration.compile_index([DecisioningObject(**row) for row in objects], settings)
    ids = resolve_activities(index, activities)
    stats: dict[tuple[uuid.UUID, str], learning.Counts] = {}
    if any(index.activities[a].model is not None for a in ids):
        stats = await learning.read_counts(session, tenant_id)
    plan = Plan(
        key=uuid.uuid4().hex,
        settings=dict(settings),
        objects=objects,
        stats=stats,
        activities=ids,
        now=now,
        depth=count * len(ids),
        seed=seed,
    )
    _compiled.clear()  # ranked in this process, the index just compiled serves
    _compiled[plan.key] = (index, learning.Estimates.of(stats))
    return plan, index


def rank_all(
    plan: Plan,
    table: pa.Table,
    progress: Progress,
    scheduler: str | None,
) -> list[Lists]:
    """Every profile ranked, chunk by chunk: here, or on the Dask cluster at ``scheduler``."""
    n = table.num_rows
    chunks = [table.slice(i, CHUNK) for i in range(0, n, CHUNK)]
    results: dict[int, list[Lists]] = {}
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
                client.submit(_rank_chunk, shared, chunk, i, pure=False)
                for i, chunk in enumerate(chunks)
            ]
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                i, found = future.result()
                results[i] = found
                done += chunks[i].num_rows
                progress("ranking", done, n)
    return [
        Lists.join([results[i][a] for i in range(len(chunks))]) for a in range(len(plan.activities))
    ]


def _seed(plan: Plan, chunk: int) -> int | None:
    """A seeded plan seeds each chunk differently, and reproducibly wherever it is ranked."""
    return None if plan.seed is None else plan.seed + chunk


def _rank_chunk(plan: Plan, table: pa.Table, i: int) -> tuple[int, list[Lists]]:
    """One chunk, on a Dask worker."""
    return i, rank(replace(plan, seed=_seed(plan, i)), table)


async def take_counts(
    counters: BatchCounters,
    allocation: Allocation,
    profiles: Sequence[str],
    offers: Mapping[str, core.OfferDef],
) -> int:
    """Count the allocation against the live counters: a global cap all at once, then profile
    caps; an item a counter no longer allows is dropped (the lowest scores first). How many were
    dropped."""
    holders: dict[str, list[tuple[float, int, int]]] = {}  # offer → (score, -row, activity)
    for a, per_profile in enumerate(allocation.chosen):
        for p, picks in enumerate(per_profile):
            for key, score in picks:
                if offers[key].caps:
                    holders.setdefault(key, []).append((score, -p, a))
    dropped: set[tuple[int, int, str]] = set()  # (activity, row, offer)
    for key, held in holders.items():
        offer = offers[key]
        held.sort(reverse=True)
        for cap in offer.caps:
            if cap.event != "decision" or cap.scope != "global":
                continue
            got = (await counters.take(offer, cap, {"": len(held)})).get("", 0)
            for _, p, a in held[got:]:
                dropped.add((a, -p, key))
            held = held[:got]
        for cap in offer.caps:
            if cap.event != "decision" or cap.scope != "profile":
                continue
            wanted: dict[str, int] = {}
            for _, p, _ in held:
                wanted[profiles[-p]] = wanted.get(profiles[-p], 0) + 1
            got_by = await counters.take(offer, cap, wanted)
            for _, p, a in sorted(held, key=lambda h: h[2], reverse=True):  # later activities first
                profile = profiles[-p]
                if wanted[profile] > got_by.get(profile, 0):
                    wanted[profile] -= 1
                    dropped.add((a, -p, key))
    for a, p, key in dropped:
        allocation.chosen[a][p] = [(k, s) for k, s in allocation.chosen[a][p] if k != key]
    return len(dropped)


class Propensities:
    """The propensity of a model-ranked item, given the candidates in the running: the profile's
    passing candidates not already picked for the activity (caps and de-duplication are not
    known to the policy here). Computed once per distinct pool, which profiles of a group share."""

    def __init__(self, index: core.DecisioningIndex, estimates: learning.Estimates) -> None:
        self._index = index
        self._estimates = estimates
        self._rng = np.random.default_rng()
        self._known: dict[tuple[uuid.UUID, frozenset[str], str], float] = {}

    def of(self, activity: core.ActivityDef, pool: frozenset[str], chosen: str) -> float:
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


def output(
    allocation: Allocation,
    lists: Sequence[Lists],
    profiles: Sequence[str],
    activities: Sequence[core.ActivityDef],
    offers: Mapping[str, core.OfferDef],
    decision_ids: Sequence[uuid.UUID],
    propensities: Propensities,
) -> tuple[pa.Table, list[dict[str, Any]], int]:
    """The output rows (one per item, the fallback included), and the decision rows."""
    names = (
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
    out: list[tuple[Any, ...]] = []
    decisions: list[dict[str, Any]] = []
    fallbacks = 0
    for p, profile in enumerate(profiles):
        propositions = []
        decision_id = str(decision_ids[p])
        for a, activity in enumerate(activities):
            picks = allocation.chosen[a][p]
            pool = None
            if activity.model is not None:
                pool = frozenset(activity.candidates[j].key for j in lists[a].of(p)[0])
            items: list[tuple[str, str, bool, float | None, float | None]] = []
            for key, picked in picks:
                chance = None
                if pool is not None:
                    chance = propensities.of(activity, pool, key)
                    pool = pool - {key}
                items.append((key, offers[key].name, False, picked, chance))
            if not items:
                fallbacks += 1
                fallback = activity.fallback
                items = [(str(fallback.id), fallback.name, True, None, None)]
            for position, (key, name, is_fallback, score, chance) in enumerate(items, 1):
                out.append(
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
                proposition = {
                    "activity_id": activity.key,
                    "placement_id": activity.placement_key,
                    "offer_id": key,
                    "score": score,
                    "fallback": is_fallback,
                }
                if chance is not None:
                    proposition["propensity"] = chance
                propositions.append(proposition)
        decisions.append(
            {"id": decision_ids[p], "profile_id": profile, "propositions": propositions}
        )
    columns = list(zip(*out, strict=True)) if out else [() for _ in names]
    return pa.table(dict(zip(names, map(list, columns), strict=True))), decisions, fallbacks


def write_table(found: pa.Table, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        pacsv.write_csv(found, out)
    else:
        pq.write_table(found, out)


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
    progress: Progress = _quiet,
) -> Outcome:
    """Decide for every profile (see the module's doc); write ``out``; take the counts and
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
    found, decisions, fallbacks = output(
        allocation, lists, profiles, acts, offers, decision_ids, propensities
    )
    write_table(found, out)
    if not dry_run:
        await record(session_factory, tenant_id, decisions, now, progress)
    return Outcome(
        profiles=len(profiles),
        propositions=found.num_rows,
        fallbacks=fallbacks,
        trimmed=trimmed,
        rank_seconds=ranked_at - started,
        allocate_seconds=allocated_at - ranked_at,
        record_seconds=time.perf_counter() - allocated_at,
        out=out,
    )


def describe(outcome: Outcome) -> str:
    rate = outcome.profiles_per_second
    return (
        f"{outcome.profiles:,} profiles → {outcome.propositions:,} items "
        f"({outcome.fallbacks:,} fallbacks, {outcome.trimmed:,} trimmed by live counts) in "
        f"{outcome.rank_seconds:.2f} s ranking + {outcome.allocate_seconds:.2f} s allocating "
        f"({rate:,.0f} profiles/s) + {outcome.record_seconds:.2f} s counting and recording"
    )
