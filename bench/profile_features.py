"""What a decision pays to read a stored profile's features, and what storing events adds.

    .venv/bin/python bench/profile_features.py

(a) Computing the features from a busy profile's state (90 days of buckets, five categories and
    two sessions a day): the work a decision adds per request, once, whatever its rules read.
(b) Merging a batch of 100 events into a profile's state (the consumer's work per profile, in the
    events' transaction).
(c) A rule reading them (``profile.category_affinity['electronics'] > 0.5 and
    bought_within('electronics', 30)``) against a plain attribute rule.
"""

from __future__ import annotations

import json
import timeit
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from _http import machine

from offerengine.decisioning import core as decisioning
from offerengine.profiles import features
from offerengine.profiles.features import Happened
from offerengine.rules.core import compile_condition, rules_context
from offerengine.rules.vocabulary import DECISIONING

NOW = datetime(2026, 12, 8, 12, tzinfo=UTC)
CATEGORIES = ("electronics", "books", "garden", "toys", "food")


def busy_events(days: int = 90) -> list[Happened]:
    found = []
    for day in range(days):
        at = NOW - timedelta(days=day, hours=3)
        for s in range(2):
            session = f"s{day}-{s}"
            for i, category in enumerate(CATEGORIES):
                moment = at + timedelta(minutes=10 * s + i)
                found.append(Happened("view", moment, session, category))
            found.append(
                Happened("add_to_cart", at + timedelta(minutes=10 * s + 6), session, "toys")
            )
        found.append(Happened("purchase", at, None, "electronics", Decimal("19.90")))
    return found


def per_call(work: Any, repeat: int = 7, number: int = 200) -> float:
    return min(timeit.repeat(work, repeat=repeat, number=number)) / number * 1e6


def main() -> None:
    print(machine())
    state: dict[str, Any] = {}
    events = busy_events()
    features.add_all(state, events, today=NOW.date())
    state = json.loads(json.dumps(state))
    size = len(json.dumps(state))
    read_us = per_call(lambda: features.read(state, NOW))
    print(
        f"(a) features of a profile with {len(events):,} events in 90 days ({size:,} bytes of "
        f"JSON): {read_us:,.0f} µs per read"
    )
    typical: dict[str, Any] = {}
    features.add_all(typical, busy_events(3), today=NOW.date())
    typical = json.loads(json.dumps(typical))
    typical_us = per_call(lambda: features.read(typical, NOW))
    print(
        f"    a profile with {len(busy_events(3))} events in 3 days: {typical_us:,.0f} µs per read"
    )
    batch = events[:100]
    merge_us = per_call(
        lambda: features.add_all(json.loads(json.dumps(state)), batch, today=NOW.date()), number=50
    )
    copy_us = per_call(lambda: json.loads(json.dumps(state)), number=50)
    print(
        f"(b) 100 events merged into it: {merge_us - copy_us:,.0f} µs (besides copying the state)"
    )
    attributes = features.read(state, NOW)
    facts = decisioning.request_facts("ada", {"tier": "GOLD", **attributes}, {}, NOW)
    rule = compile_condition(
        "profile.category_affinity['electronics'] > 0.5 and bought_within('electronics', 30)",
        DECISIONING,
    )
    plain = compile_condition("profile.tier == 'GOLD'", DECISIONING)
    with rules_context():
        feature_ns = per_call(lambda: rule.evaluate(facts), number=20_000) * 1000
        plain_ns = per_call(lambda: plain.evaluate(facts), number=20_000) * 1000
    print(
        f"(c) a rule reading features: {feature_ns:,.0f} ns; an attribute rule: {plain_ns:,.0f} ns"
    )


if __name__ == "__main__":
    main()
