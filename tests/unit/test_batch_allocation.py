"""Batch allocation without a database: the global cap goes to the highest scores whatever the
order profiles come in, per-profile limits and de-duplication hold, with one item per activity
and with several."""

from __future__ import annotations

import uuid
from types import MappingProxyType
from zoneinfo import ZoneInfo

import numpy as np

from offerengine.decisioning import batch, core

PLACEMENT = uuid.uuid4()


def _offer(name: str, capped: bool = False) -> core.OfferDef:
    caps = (core.Cap("global", 2, "decision", "lifetime", None, ZoneInfo("UTC")),) if capped else ()
    return core.OfferDef(
        id=uuid.uuid4(),
        name=name,
        priority=0,
        start=None,
        end=None,
        content=MappingProxyType({PLACEMENT: {}}),
        eligibility=None,
        caps=caps,
        facts=core.offer_facts(name, 0, (), None, None, None, None, {}),
    )


def _activity(name: str, offers: list[core.OfferDef]) -> core.ActivityDef:
    return core.ActivityDef(
        id=uuid.uuid4(),
        name=name,
        placement_id=PLACEMENT,
        start=None,
        end=None,
        candidates=tuple(offers),
        fallback=core.Fallback(uuid.uuid4(), "fallback", {}),
    )


def _lists(rows: list[list[tuple[int, float]]]) -> batch.CandidateLists:
    start = np.cumsum([0] + [len(r) for r in rows])
    return batch.CandidateLists(
        start,
        np.array([j for r in rows for j, _ in r], dtype=np.int32),
        np.array([s for r in rows for _, s in r], dtype=float),
    )


def test_the_capped_offer_goes_to_the_highest_scores_in_any_order() -> None:
    vip, plain = _offer("VIP", capped=True), _offer("Plain")
    act = _activity("A", [vip, plain])
    scores = [1.0, 5.0, 3.0, 9.0, 2.0]  # rows 1 and 3 should win; row 0 comes first and loses
    lists = _lists([[(0, s), (1, 0.0)] for s in scores])
    limits = batch.Limits(global_left={vip.key: 2})
    profiles = [f"p{i}" for i in range(5)]
    for count in (1, 2):
        found = batch.allocate(
            [lists], [act], profiles, limits, count=count, allow_duplicates=False
        )
        firsts = [picks[0][0] for picks in found.chosen[0]]
        assert firsts == [plain.key, vip.key, plain.key, vip.key, plain.key]
        if count == 2:  # the winners get the plain offer second
            assert [len(p) for p in found.chosen[0]] == [1, 2, 1, 2, 1]


def test_profile_limits_and_de_duplication_across_activities() -> None:
    vip, plain, other = _offer("VIP", capped=True), _offer("Plain"), _offer("Other")
    first = _activity("A", [plain, other])
    second = _activity("B", [plain, vip, other])
    lists = [
        _lists([[(0, 1.0), (1, 0.0)]] * 2),
        _lists([[(0, 1.0), (1, 0.5), (2, 0.0)]] * 2),
    ]
    limits = batch.Limits(profile_left={(vip.key, "p0"): 0})
    found = batch.allocate(
        lists, [first, second], ["p0", "p1"], limits, count=1, allow_duplicates=False
    )
    assert [p[0][0] for p in found.chosen[0]] == [plain.key, plain.key]
    # Plain was proposed already; VIP is out for p0 (its profile cap), not for p1.
    assert [p[0][0] for p in found.chosen[1]] == [other.key, vip.key]
    again = batch.allocate(
        lists, [first, second], ["p0", "p1"], limits, count=1, allow_duplicates=True
    )
    assert [p[0][0] for p in again.chosen[1]] == [plain.key, plain.key]
