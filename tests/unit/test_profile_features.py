"""Features from behaviour (offerengine.profiles.features): windows, recency, affinity, sessions,
and the incremental path agreeing with a replay whatever the order and batches of the events."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from offerengine.profiles import features
from offerengine.profiles.features import Happened

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def state_of(*events: Happened, today: date = TODAY) -> dict[str, Any]:
    state: dict[str, Any] = {}
    features.add_all(state, events, today=today)
    return json.loads(json.dumps(state))  # as the database gives it back


def ago(**kwargs: float) -> datetime:
    return NOW - timedelta(**kwargs)


def test_windows_count_whole_utc_days_today_included() -> None:
    state = state_of(
        Happened("purchase", ago(hours=1), value=Decimal("10.00")),
        Happened("purchase", ago(days=6), value=Decimal("5.50")),
        Happened("purchase", ago(days=7), value=Decimal("1")),
        Happened("purchase", ago(days=40)),
        Happened("purchase", ago(days=95), value=Decimal("100")),
    )
    found = features.read(state, NOW)
    assert [found[f"purchases_{n}d"] for n in (1, 7, 30, 90)] == [1, 2, 3, 4]
    assert found["revenue_7d"] == Decimal("15.50")
    assert found["revenue_90d"] == Decimal("16.50")
    assert found["revenue"] == Decimal("116.50")  # all time, the 95-day-old purchase too


def test_windows_slide_with_time_without_new_events() -> None:
    state = state_of(Happened("purchase", ago(days=5)))
    assert features.read(state, NOW)["purchases_7d"] == 1
    assert features.read(state, NOW + timedelta(days=2))["purchases_7d"] == 0
    assert features.read(state, NOW + timedelta(days=2))["purchases_30d"] == 1


def test_recency_is_days_since_the_latest_purchase_and_missing_without_one() -> None:
    assert "days_since_last_purchase" not in features.read(state_of(), NOW)
    state = state_of(
        Happened("purchase", ago(days=3)), Happened("purchase", ago(days=10, hours=12))
    )
    assert features.read(state, NOW)["days_since_last_purchase"] == Decimal("3.0000")


def test_a_value_in_another_currency_is_not_added_to_the_revenue() -> None:
    assert features.counted_value(Decimal("9"), "USD", "EUR") is None
    assert features.counted_value(Decimal("9"), "EUR", "EUR") == Decimal("9")
    assert features.counted_value(Decimal("9"), None, "EUR") == Decimal("9")


def test_category_affinity_is_each_categorys_share_of_the_interest_score() -> None:
    state = state_of(
        Happened("view", ago(days=1), category="books"),  # 1
        Happened("click", ago(days=1), category="books"),  # 2
        Happened("purchase", ago(days=2), category="electronics"),  # 5
        Happened("add_to_cart", ago(days=2), category="electronics", quantity=2),  # 3 x 2
        Happened("view", ago(days=100), category="garden"),  # beyond the horizon
    )
    affinity = features.read(state, NOW)["category_affinity"]
    assert affinity == {
        "books": Decimal("0.2143"),
        "electronics": Decimal("0.7857"),
    }  # 3 and 11 of 14
    assert features.read(state, NOW)["items_added_1d"] == 0
    assert features.read(state, NOW)["items_added_7d"] == 2


def test_bought_in_a_category_keeps_the_latest_purchase_of_each() -> None:
    state = state_of(
        Happened("purchase", ago(days=200), category="tv"),
        Happened("purchase", ago(days=20), category="tv"),
        Happened("view", ago(days=1), category="radio"),
    )
    assert features.read(state, NOW)["last_purchase_in"] == {"tv": ago(days=20)}


def test_an_abandoned_cart_is_a_session_over_with_items_added_and_no_purchase() -> None:
    state = state_of(
        # s1: two days ago, added and left
        Happened("view", ago(days=2, minutes=10), session_id="s1"),
        Happened("add_to_cart", ago(days=2), session_id="s1", quantity=3),
        # s2: yesterday, added and bought
        Happened("add_to_cart", ago(days=1, minutes=5), session_id="s2"),
        Happened("purchase", ago(days=1), session_id="s2"),
        # s3: now, added, still going (10 minutes ago)
        Happened("add_to_cart", ago(minutes=10), session_id="s3"),
    )
    found = features.read(state, NOW)
    assert found["abandoned_carts_7d"] == 1
    assert found["sessions_7d"] == 3
    assert found["last_session_seconds"] == 300  # s2, the latest that is over
    assert found["abandoned_last_session"] is False
    later = features.read(state, NOW + features.SESSION_TIMEOUT)  # s3 is over now
    assert later["abandoned_carts_7d"] == 2
    assert later["abandoned_last_session"] is True
    assert later["last_session_seconds"] == 0


def test_a_profile_without_sessions_has_no_last_session() -> None:
    found = features.read(state_of(Happened("view", ago(days=1))), NOW)
    assert "last_session_seconds" not in found
    assert found["abandoned_last_session"] is False


def test_pruning_drops_only_what_no_window_reads() -> None:
    state = state_of(Happened("view", ago(days=89)), Happened("view", ago(days=91)))
    assert set(state["days"]) == {(TODAY - timedelta(days=89)).isoformat()}


def test_a_day_keeps_its_smallest_keys_when_there_are_too_many() -> None:
    many = [Happened("view", ago(hours=1), category=f"c{i:03d}") for i in range(80)]
    kept = state_of(*reversed(many))["days"][TODAY.isoformat()]["categories"]
    assert sorted(kept) == [f"c{i:03d}" for i in range(features.MAX_KEYS)]


def test_the_quantity_of_a_cart_add_is_a_whole_number_within_bounds() -> None:
    assert features.quantity_of({"quantity": 3}) == 3
    assert features.quantity_of({"quantity": 0}) == 1
    assert features.quantity_of({"quantity": True}) == 1
    assert features.quantity_of({"quantity": "4"}) == 1
    assert features.quantity_of({"quantity": 10**9}) == 1
    assert features.quantity_of({}) == 1


# --- incremental against replay --------------------------------------------------------------

START = datetime(2026, 8, 1, tzinfo=UTC)
SPAN_MINUTES = 150 * 24 * 60  # beyond the horizon, so that pruning takes part


@st.composite
def event_lists(draw: st.DrawFn) -> list[Happened]:
    """Events over a few days (the days' maps fill up) or beyond the horizon (pruning)."""
    span = draw(st.sampled_from([2 * 24 * 60, SPAN_MINUTES]))
    kinds = ["view", "impression", "click", "add_to_cart", "purchase", "purchase", "decline"]
    one = st.builds(
        Happened,
        type=st.sampled_from(kinds),
        at=st.integers(0, span).map(lambda m: START + timedelta(minutes=m)),
        session_id=st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", "e", "f"])),
        category=st.one_of(st.none(), st.sampled_from([f"k{i}" for i in range(8)])),
        value=st.one_of(st.none(), st.decimals("0", "999.99", places=2)),
        quantity=st.integers(1, 5),
    )
    return draw(st.lists(one, max_size=120))


@settings(max_examples=150, deadline=None)
@given(
    events=event_lists(),
    cuts=st.lists(st.integers(0, 120), max_size=8),
    order=st.randoms(use_true_random=False),
    late=st.integers(0, 20 * 24 * 60),
)
def test_incremental_and_replay_give_the_same_features(
    events: list[Happened], cuts: list[int], order: Any, late: int
) -> None:
    # A small bound on the keys a map keeps, so that the bound takes part.
    bound, features.MAX_KEYS = features.MAX_KEYS, 3
    try:
        _compare(events, cuts, order, late)
    finally:
        features.MAX_KEYS = bound


def _compare(events: list[Happened], cuts: list[int], order: Any, late: int) -> None:
    # The consumer: the events arrive in any order, in batches, each absorbed at its own time
    # (never before the latest event it holds), stored as JSON between batches.
    arriving = list(events)
    order.shuffle(arriving)
    bounds = sorted({0, len(arriving), *(min(c, len(arriving)) for c in cuts)})
    state: dict[str, Any] = {}
    clock = START
    for lo, hi in itertools.pairwise(bounds):
        batch = arriving[lo:hi]
        clock = max([clock, *(e.at for e in batch)])
        features.add_all(state, batch, today=clock.date())
        state = json.loads(json.dumps(state))
    # The replay: every event again in time order, at a time after them all, in batches.
    now = max([clock, *(e.at for e in events)]) + timedelta(minutes=late)
    replayed: dict[str, Any] = {}
    ordered = sorted(events, key=lambda e: e.at)
    for lo in range(0, len(ordered), 7):
        features.add_all(replayed, ordered[lo : lo + 7], today=now.date())
    for at in (now, now + timedelta(hours=1), now + timedelta(days=8)):
        assert features.read(state, at) == features.read(replayed, at)


def test_decisions_segments_and_promotions_read_the_features_from_the_stored_row() -> None:
    from offerengine.profiles.core import RuleSegment, SegmentIndex, profile_facts, vector
    from offerengine.profiles.models import Profile
    from offerengine.profiles.service import attributes_of
    from offerengine.rules import core as rules
    from offerengine.rules.vocabulary import DECISIONING

    row = Profile(
        profile_id="ada",
        attributes={"tier": "GOLD"},
        consent={},
        aggregates={},
        features=state_of(
            Happened("purchase", ago(days=3), category="books", value=Decimal("12.5")),
            Happened("view", ago(days=1), category="tv"),
        ),
    )
    segment = RuleSegment(
        "reader", rules.compile_condition("bought_within('books', 7)", DECISIONING)
    )
    found = attributes_of(row, NOW, SegmentIndex(rules=(segment,)))
    assert (found["purchases_30d"], found["revenue_90d"]) == (1, Decimal("12.5"))
    assert found["segments"] == ["reader"]
    # What a promotion's uplift model reads: profile.<feature> as numbers.
    facts = profile_facts(found)
    assert list(vector(facts, ["purchases_30d", "category_affinity.books"])) == [1.0, 0.8333]
    # Without consent to personalise, none of it.
    row.consent = {"personalization": False}
    assert "purchases_30d" not in attributes_of(row, NOW)
