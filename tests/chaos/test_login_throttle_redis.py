"""The login throttle with Redis: workers that share a Redis prefix share the counts, the check
and the count are one atomic step, and a Redis that is away refuses logins instead of letting
them through unthrottled."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from offerengine.auth.throttle import Backoff, LoginGuard, LoginPolicy
from offerengine.auth.throttle_redis import RedisFailures
from offerengine.errors import Unavailable
from tests.conftest import free_port

pytestmark = pytest.mark.redis
OWNER = "owner-tag"
ATTACKER = "203.0.113.9"
HOME = "198.51.100.7"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"oe-test-{uuid.uuid4().hex[:12]}"


async def test_two_workers_on_one_prefix_share_the_counts(redis: Redis, prefix: str) -> None:
    policy = LoginPolicy(pair=Backoff(free=4, base=5, cap=60, forget=120))
    first = LoginGuard(RedisFailures(redis, prefix), policy)
    second = LoginGuard(RedisFailures(redis, prefix), policy)
    for guard in (first, second, first, second):
        assert (await guard.attempt(OWNER, ATTACKER)).wait == 0
    assert (await first.attempt(OWNER, ATTACKER)).wait > 0
    assert (await second.attempt(OWNER, ATTACKER)).wait > 0
    assert (await second.attempt(OWNER, HOME)).wait == 0  # the owner's own address is free
    # Another deployment on the same server (another prefix) counts apart.
    other = LoginGuard(RedisFailures(redis, f"{prefix}-other"), policy)
    assert (await other.attempt(OWNER, ATTACKER)).wait == 0
    keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
    ttls = [await redis.ttl(k) for k in keys]
    assert ttls
    assert all(0 < ttl <= 7200 for ttl in ttls)  # they expire on their own
    await redis.delete(*keys, *[k async for k in redis.scan_iter(f"{prefix}-other:*")])


async def test_concurrent_attempts_from_two_workers_never_pass_the_free_ones(
    redis: Redis, prefix: str
) -> None:
    guards = [LoginGuard(RedisFailures(redis, prefix)) for _ in range(2)]
    found = await asyncio.gather(*(guards[n % 2].attempt(OWNER, ATTACKER) for n in range(30)))
    assert sum(a.wait == 0 for a in found) == LoginPolicy().pair.free
    await redis.delete(*[k async for k in redis.scan_iter(f"{prefix}:*")])


async def test_a_success_clears_the_pair_for_every_worker(redis: Redis, prefix: str) -> None:
    policy = LoginPolicy(pair=Backoff(free=3, base=5, cap=60, forget=120))
    first = LoginGuard(RedisFailures(redis, prefix), policy)
    second = LoginGuard(RedisFailures(redis, prefix), policy)
    await first.attempt(OWNER, HOME)
    await first.attempt(OWNER, HOME)
    await second.succeeded(await second.attempt(OWNER, HOME))
    assert [(await first.attempt(OWNER, HOME)).wait for _ in range(3)] == [0, 0, 0]
    await redis.delete(*[k async for k in redis.scan_iter(f"{prefix}:*")])


async def test_a_redis_that_is_away_is_unavailable_not_unthrottled(prefix: str) -> None:
    away = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    try:
        with pytest.raises(Unavailable):
            await LoginGuard(RedisFailures(away, prefix)).attempt(OWNER, HOME)
    finally:
        await away.aclose()
