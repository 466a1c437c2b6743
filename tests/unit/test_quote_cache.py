"""A worker's quote cache: served while valid, bounded by bytes, forgets accepted quotes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from offerengine.commerce.cache import Cached, QuoteCache

NOW = datetime(2026, 12, 1, tzinfo=UTC)
TENANT = uuid.uuid4()


def _cached(size: int, minutes: int = 15) -> Cached:
    return Cached(uuid.uuid4(), NOW + timedelta(minutes=minutes), b"x" * size)


def test_a_quote_is_served_until_its_validity_ends() -> None:
    cache = QuoteCache()
    made = _cached(10)
    cache.put(TENANT, "h", made)
    assert cache.get(TENANT, "h", NOW) is made
    assert cache.get(uuid.uuid4(), "h", NOW) is None  # another tenant's identical request
    assert cache.get(TENANT, "h", NOW + timedelta(minutes=15)) is None
    assert len(cache) == 0
    assert cache.size == 0


def test_the_least_recently_used_go_first_when_the_bytes_run_out() -> None:
    cache = QuoteCache(max_bytes=300)
    for name in "abc":
        cache.put(TENANT, name, _cached(100))
    assert cache.get(TENANT, "a", NOW) is not None  # a is now the most recent
    cache.put(TENANT, "d", _cached(100))
    assert cache.get(TENANT, "b", NOW) is None
    assert {n for n in "acd" if cache.get(TENANT, n, NOW)} == {"a", "c", "d"}
    assert cache.size == 300
    cache.put(TENANT, "big", _cached(250))
    assert cache.size <= 300
    assert len(cache) == 1


def test_an_accepted_quote_is_forgotten() -> None:
    cache = QuoteCache()
    made = _cached(10)
    cache.put(TENANT, "h", made)
    cache.put(TENANT, "h", made)  # put again (from Redis): counted once
    assert cache.size == 10
    cache.forget(made.quote_id)
    assert cache.get(TENANT, "h", NOW) is None
    assert cache.size == 0
