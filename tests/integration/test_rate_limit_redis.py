"""Token buckets shared through Redis: one script per request takes from the key's and the
tenant's buckets at once, so two workers (two connections) share one limit."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from offerengine.ratelimit import Rate, RedisBuckets
from offerengine.redis_line import RedisLine
from tests.conftest import free_port

pytestmark = pytest.mark.redis


async def test_two_workers_share_one_bucket_and_a_refusal_takes_nothing(redis_url: str) -> None:
    prefix = f"oe-test-{uuid.uuid4().hex[:12]}"
    one, two = RedisLine(redis_url), RedisLine(redis_url)
    tenant = uuid.uuid4()
    key = (f"{tenant}:key:a", Rate(0.001, 3))  # refills too slowly to matter here
    roomy = (f"{tenant}:tenant", Rate(0.001, 100))
    try:
        first, second = RedisBuckets(one, prefix), RedisBuckets(two, prefix)
        taken = [await (first if n % 2 else second).take([key, roomy]) for n in range(4)]
        assert [v.allowed for v in taken] == [True, True, True, False]
        assert taken[2].levels[0] == pytest.approx(0.0, abs=0.01)
        assert taken[3].wait == pytest.approx(1000.0, rel=0.01)
        # The refusal took nothing from the tenant's bucket: three takes so far, not four.
        assert taken[3].levels[1] == pytest.approx(97.0, abs=0.5)
    finally:
        await one.close()
        await two.close()


async def test_concurrent_takes_never_exceed_the_burst(redis_url: str) -> None:
    prefix = f"oe-test-{uuid.uuid4().hex[:12]}"
    line = RedisLine(redis_url)
    bucket = (f"{uuid.uuid4()}:tenant", Rate(0.001, 25))
    try:
        buckets = RedisBuckets(line, prefix)
        verdicts = await asyncio.gather(*(buckets.take([bucket]) for _ in range(100)))
        assert sum(v.allowed for v in verdicts) == 25
    finally:
        await line.close()


async def test_the_buckets_keys_expire_once_full_again(redis_url: str) -> None:
    prefix = f"oe-test-{uuid.uuid4().hex[:12]}"
    line = RedisLine(redis_url)
    try:
        # One token taken from ten, at a tenth of a token a second: full again in 10 s.
        await RedisBuckets(line, prefix).take([("t:tenant", Rate(0.1, 10))])
        names = await line.execute("KEYS", f"{prefix}:*")
        assert len(names) == 1
        assert 9_000 < int(await line.execute("PTTL", names[0])) <= 10_001
    finally:
        await line.close()


async def test_without_redis_a_worker_keeps_limiting_with_its_own_buckets() -> None:
    line = RedisLine(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        buckets = RedisBuckets(line, f"oe-test-{uuid.uuid4().hex[:12]}")
        bucket = ("t:key:a", Rate(0.001, 2))
        assert [(await buckets.take([bucket])).allowed for _ in range(3)] == [True, True, False]
    finally:
        await line.close()
