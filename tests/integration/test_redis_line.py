"""The counters' pipelined Redis connection: replies go to the command that asked, in any
interleaving; errors, timeouts and lost connections fail the waiting commands and nothing else."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from redis import exceptions as rx

from offerengine.decisioning import core
from offerengine.decisioning.counting import RedisCounters
from offerengine.errors import Unavailable
from offerengine.redis_line import RedisLine, Script
from tests.conftest import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def fake_redis(handler: Handler) -> AsyncIterator[str]:
    """A server on 127.0.0.1 that answers as ``handler`` says: a Redis that misbehaves. Each
    connection is held open until the client closes it."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
            while await reader.read(1 << 16):
                pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.redis
async def test_concurrent_commands_each_get_their_own_reply(redis_url: str) -> None:
    line = RedisLine(redis_url)
    prefix = f"oe-test-line-{uuid.uuid4().hex[:8]}"
    try:
        await asyncio.gather(*(line.execute("SET", f"{prefix}:{i}", i) for i in range(200)))
        got = await asyncio.gather(*(line.execute("GET", f"{prefix}:{i}") for i in range(200)))
        assert got == [str(i).encode() for i in range(200)]
        counts = await asyncio.gather(*(line.execute("INCR", f"{prefix}:n") for _ in range(100)))
        assert sorted(counts) == list(range(1, 101))
        await line.execute("DEL", *(f"{prefix}:{i}" for i in range(200)), f"{prefix}:n")
    finally:
        await line.close()


@pytest.mark.redis
async def test_a_script_redis_does_not_know_is_loaded_and_an_error_reply_is_raised(
    redis_url: str,
) -> None:
    line = RedisLine(redis_url)
    script = Script(f"-- {uuid.uuid4()}\nreturn {{tonumber(ARGV[1]) + 1, KEYS[1]}}")
    try:
        assert await line.execute("SCRIPT", "EXISTS", script.sha) == [0]
        assert await line.evalsha(script, ["k"], [41]) == [42, b"k"]
        assert await line.execute("SCRIPT", "EXISTS", script.sha) == [1]
        with pytest.raises(rx.ResponseError, match="wrong number of arguments"):
            await line.execute("GET")
        assert await line.execute("PING") == b"PONG"  # the line goes on after an error reply
    finally:
        await line.close()


async def test_no_reply_within_the_timeout_fails_the_waiting_commands() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)  # and never answers

    async with fake_redis(silent) as url:
        line = RedisLine(url, timeout=0.2)
        started = asyncio.get_running_loop().time()
        results = await asyncio.gather(
            line.execute("GET", "a"), line.execute("GET", "b"), return_exceptions=True
        )
        assert all(isinstance(r, rx.TimeoutError) for r in results), results
        assert asyncio.get_running_loop().time() - started < 1.5
        await line.close()


async def test_a_lost_connection_fails_what_waits_and_the_next_command_reconnects() -> None:
    connections = 0

    async def flaky(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read(1 << 16)
        if connections == 1:
            writer.close()  # the first connection dies before answering
            return
        writer.write(b"+PONG\r\n")
        await writer.drain()

    async with fake_redis(flaky) as url:
        line = RedisLine(url)
        with pytest.raises(rx.ConnectionError):
            await line.execute("PING")
        assert await line.execute("PING") == b"PONG"
        assert connections == 2
        await line.close()


async def test_a_cancelled_command_does_not_shift_the_replies() -> None:
    async def slow_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen = b""
        while seen.count(b"GET") < 2:
            seen += await reader.read(1 << 16)
        await asyncio.sleep(0.2)
        writer.write(b"$5\r\nfirst\r\n$6\r\nsecond\r\n")
        await writer.drain()

    async with fake_redis(slow_first) as url:
        line = RedisLine(url)
        first = asyncio.ensure_future(line.execute("GET", "one"))
        second = asyncio.ensure_future(line.execute("GET", "two"))
        await asyncio.sleep(0.05)
        first.cancel()
        assert await second == b"second"
        await line.close()


async def test_a_redis_that_cannot_be_reached_makes_a_cap_check_unavailable() -> None:
    line = RedisLine(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.5)
    cap = core.Cap("profile", 3, "decision", "lifetime", None, ZoneInfo("UTC"))
    offer = core.OfferDef(uuid.uuid4(), "Lounge", 1, None, None, {}, None, (cap,), {})
    never = lambda: pytest.fail("an unreachable Redis is not an emptied one")  # noqa: E731
    counters = RedisCounters(line, "oe-test", uuid.uuid4(), "p1", datetime.now(UTC), never)
    with pytest.raises(Unavailable, match="cannot be reached"):
        await counters.admit(offer, dry_run=False)
    await line.close()


def test_redis_url_options_the_line_cannot_honour_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="health_check_interval"):
        RedisLine("redis://127.0.0.1:6379/0?health_check_interval=5")
    RedisLine("redis://user:secret@127.0.0.1:6379/2")  # these are fine
    RedisLine("unix:///run/redis.sock?db=1")
