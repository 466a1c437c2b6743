"""Allocation: the ranked candidates shared out, activity after activity, under the caps and
de-duplication — the global decision caps to the highest scores (Gale–Shapley with profiles
proposing), profile caps and de-duplication as in a request.

Separate from ranking and from the counters because it is pure: the counters' :class:`Limits`
and the ranked :class:`~._ranking.CandidateLists` in, an :class:`Allocation` out, nothing read or
written on the way; it is tested without a database.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from offerengine.decisioning import core
from offerengine.decisioning.batch._ranking import CandidateLists

ChosenOffers = list[tuple[str, float]]  # (offer key, score), best first


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


@dataclass
class Allocation:
    """Per activity, per profile: the offers chosen (key, score), best first."""

    chosen: list[list[ChosenOffers]]


def allocate(
    lists: Sequence[CandidateLists],
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
    ledger = _Ledger.opened(profiles, limits, len(activities), count, allow_duplicates)
    return Allocation(
        [
            _allocate_activity(ledger, a, found, activity)
            for a, (found, activity) in enumerate(zip(lists, activities, strict=True))
        ]
    )


@dataclass
class _Ledger:
    """What allocation carries from one activity to the next: the offers each profile has taken
    (for de-duplication) and the units left under the caps."""

    profiles: Sequence[str]
    limits: Limits
    count: int
    allow_duplicates: bool
    numbers: dict[str, int]  # offer key → a number, for de-duplication across activities
    taken: np.ndarray  # count == 1: per profile and activity, the offer's number (-1: none)
    earlier: list[set[int]]  # count > 1: per profile, the numbers of the offers it took
    profile_left: dict[tuple[str, str], int]
    global_left: dict[str, int]
    counted: dict[str, list[int]]  # offer → rows of profiles some cap of it counts (or rules out)

    @staticmethod
    def opened(
        profiles: Sequence[str],
        limits: Limits,
        activities: int,
        count: int,
        allow_duplicates: bool,
    ) -> _Ledger:
        n = len(profiles)
        row_of = {profile: i for i, profile in enumerate(profiles)}
        counted: dict[str, list[int]] = {}
        for key, profile in [*limits.profile_left, *limits.profile_out]:
            counted.setdefault(key, []).append(row_of[profile])
        return _Ledger(
            profiles=profiles,
            limits=limits,
            count=count,
            allow_duplicates=allow_duplicates,
            numbers={},
            taken=np.full((n, activities), -1, dtype=np.int64),
            earlier=[set() for _ in range(n)] if count > 1 else [],
            profile_left=dict(limits.profile_left),
            global_left=dict(limits.global_left),
            counted=counted,
        )


@dataclass(frozen=True)
class _Candidates:
    """An activity's candidates as allocation reads them, by index: key, number, capped."""

    keys: list[str]
    numbers: list[int]
    capped: list[bool]


def _allocate_activity(
    ledger: _Ledger, a: int, found: CandidateLists, activity: core.ActivityDef
) -> list[ChosenOffers]:
    """One activity's offers per profile: at once where nothing can compete for them, then by
    proposals; the ledger updated for the next activity."""
    keys = [o.key for o in activity.candidates]
    candidates = _Candidates(
        keys,
        [ledger.numbers.setdefault(key, len(ledger.numbers)) for key in keys],
        [bool(o.caps) for o in activity.candidates],
    )
    picks: list[ChosenOffers] = [[] for _ in range(len(ledger.profiles))]
    has = found.start[1:] > found.start[:-1]
    if ledger.count == 1 and len(found.offers):
        fast = _take_at_once(ledger, a, found, activity, candidates, picks, has)
        slow = np.flatnonzero(has & ~fast)
    else:
        slow = np.flatnonzero(has)
    proposals = _Proposals(ledger, a, found, candidates, picks)
    proposals.run(slow)
    for p in slow.tolist():
        if ledger.count == 1:
            ledger.taken[p, a] = candidates.numbers[keys.index(picks[p][0][0])] if picks[p] else -1
        else:
            ledger.earlier[p].update(ledger.numbers[k] for k, _ in picks[p])
    for key, heap in proposals.holders.items():
        ledger.global_left[key] -= len(heap)
    return picks


def _take_at_once(
    ledger: _Ledger,
    a: int,
    found: CandidateLists,
    activity: core.ActivityDef,
    candidates: _Candidates,
    picks: list[ChosenOffers],
    has: np.ndarray,
) -> np.ndarray:
    """With one item per activity, the profiles that simply get their best candidate (found for
    all at once, into ``picks``); which rows they are."""
    limits = ledger.limits
    # Taken at once: a best candidate without caps, or with profile caps only (the profile's
    # first unit: it cannot take the offer twice here) for a profile not counted yet — unless it
    # is proposed to the profile already.
    simple = np.array(
        [
            not o.caps
            or (
                o.key not in ledger.global_left
                and o.key not in limits.out
                and not ledger.allow_duplicates
                and limits.profile_limit.get(o.key, 1) >= 1
            )
            for o in activity.candidates
        ]
    )
    at = np.minimum(found.start[:-1], len(found.offers) - 1)
    first = found.offers[at]
    fast: np.ndarray = has & simple[first]
    for j, key in enumerate(candidates.keys):
        if candidates.capped[j] and simple[j] and key in ledger.counted:
            rows_counted = np.array(ledger.counted[key])
            fast[rows_counted[first[rows_counted] == j]] = False
    numbers = np.array(candidates.numbers)
    if not ledger.allow_duplicates and a:
        fast &= ~(ledger.taken[:, :a] == numbers[first][:, None]).any(axis=1)
    rows = np.flatnonzero(fast)
    firsts = first[rows].tolist()
    scores = found.scores[at[rows]].tolist()
    for i, j, score in zip(rows.tolist(), firsts, scores, strict=True):
        picks[i] = [(candidates.keys[j], score)]
    ledger.taken[rows, a] = numbers[first[rows]]
    return fast


class _Proposals:
    """One activity's proposals, profile by profile down its list: a capped offer's global units
    go to the highest scores (``holders``, a min-heap per offer of (score, -row)); a profile
    bumped by a higher score proposes again, from where it stopped."""

    def __init__(
        self,
        ledger: _Ledger,
        a: int,
        found: CandidateLists,
        candidates: _Candidates,
        picks: list[ChosenOffers],
    ) -> None:
        self._ledger = ledger
        self._candidates = candidates
        self._picks = picks
        self._bounds = found.start.tolist()
        self._offers = found.offers.tolist()
        self._scores = found.scores.tolist()
        dedupe_by_taken = ledger.count == 1 and a and not ledger.allow_duplicates
        self._before = ledger.taken[:, :a].tolist() if dedupe_by_taken else None
        self._queue: list[int] = []
        self.holders: dict[str, list[tuple[float, int]]] = {}

    def run(self, rows: np.ndarray) -> None:
        """Every row's proposals, until each holds ``count`` offers or has no candidate left."""
        ledger, candidates = self._ledger, self._candidates
        pointer = {p: self._bounds[p] for p in rows.tolist()}
        self._queue = rows[::-1].tolist()
        while self._queue:
            p = self._queue.pop()
            end = self._bounds[p + 1]
            mine = self._picks[p]
            while len(mine) < ledger.count and pointer[p] < end:
                j = self._offers[pointer[p]]
                score = self._scores[pointer[p]]
                pointer[p] += 1
                key = candidates.keys[j]
                if key in ledger.limits.out or self._proposed_already(p, candidates.numbers[j]):
                    continue
                if candidates.capped[j] and not self._claim(key, p, score):
                    continue
                mine.append((key, score))

    def _proposed_already(self, p: int, number: int) -> bool:
        ledger = self._ledger
        if ledger.allow_duplicates:
            return False
        if self._before is not None and number in self._before[p]:
            return True
        return bool(ledger.earlier) and number in ledger.earlier[p]

    def _claim(self, key: str, p: int, score: float) -> bool:
        """Whether row ``p`` may take capped offer ``key``: its profile caps leave it a unit and,
        under a global cap, its score is among the highest (a lower holder bumped)."""
        ledger, limits = self._ledger, self._ledger.limits
        profile = ledger.profiles[p]
        if (key, profile) in limits.profile_out:
            return False
        mine_left = ledger.profile_left.get((key, profile))
        if mine_left is None and key in limits.profile_limit:
            mine_left = ledger.profile_left[(key, profile)] = limits.profile_limit[key]
        if mine_left is not None and mine_left <= 0:
            return False
        left = ledger.global_left.get(key)
        if left is not None:
            if left <= 0:
                return False
            heap = self.holders.setdefault(key, [])
            heapq.heappush(heap, (score, -p))
            if len(heap) > left:
                loser = -heapq.heappop(heap)[1]
                if loser == p:
                    return False
                self._bump(key, loser)
        if (key, profile) in ledger.profile_left:
            ledger.profile_left[(key, profile)] -= 1
        return True

    def _bump(self, key: str, loser: int) -> None:
        """The offer taken back from a lower score, who proposes again."""
        picks = self._picks
        picks[loser] = [(k, s) for k, s in picks[loser] if k != key]
        if (key, self._ledger.profiles[loser]) in self._ledger.profile_left:
            self._ledger.profile_left[(key, self._ledger.profiles[loser])] += 1
        self._queue.append(loser)
