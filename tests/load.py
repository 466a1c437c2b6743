"""A bounded loopback load generator: many keep-alive HTTP/1.1 connections, each sending one
request after another for a few seconds, timing every answer by its status.

Written on bare asyncio streams rather than an HTTP client library, so that 500 connections cost
the generator little of the CPU it shares with the server on a small machine (httpx spends more
per request than the server it measures). wrk cannot say which answers were slow: the figures
that matter under overload are the latency of the *admitted* requests apart from the fast
refusals. Used by tests/chaos/test_overload.py and bench/overload.py.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Tally:
    """What the connections saw: latencies (seconds) by status, timeouts and broken ones."""

    seconds: float = 0.0
    latencies: dict[int, list[float]] = field(default_factory=dict)
    timeouts: int = 0
    errors: int = 0
    over_budget: int = 0  # the 503s that were a time budget spent, not a request shed

    def add(self, status: int, latency: float) -> None:
        self.latencies.setdefault(status, []).append(latency)

    def count(self, *statuses: int) -> int:
        return sum(len(self.latencies.get(s, ())) for s in statuses)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def admitted(self) -> list[float]:
        return sorted(self.latencies.get(200, []) + self.latencies.get(201, []))

    def refused(self) -> list[float]:
        return sorted(self.latencies.get(429, []) + self.latencies.get(503, []))

    def summary(self) -> dict[str, float | int | dict[int, int]]:
        admitted, refused = self.admitted(), self.refused()
        return {
            "seconds": round(self.seconds, 2),
            "statuses": {s: len(v) for s, v in sorted(self.latencies.items())},
            "over_budget": self.over_budget,
            "timeouts": self.timeouts,
            "errors": self.errors,
            "admitted_per_second": round(len(admitted) / self.seconds, 1) if self.seconds else 0,
            "admitted_p50_ms": _ms(percentile(admitted, 50)),
            "admitted_p99_ms": _ms(percentile(admitted, 99)),
            "refused_p50_ms": _ms(percentile(refused, 50)),
            "refused_p99_ms": _ms(percentile(refused, 99)),
        }


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(share) - 1]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def post_request(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of a keep-alive JSON POST to ``url``."""
    parts = urlsplit(url)
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def load(
    url: str,
    requests: Sequence[bytes],
    *,
    connections: int,
    seconds: float,
    patience: float = 5.0,
    honour_retry_after: bool = True,
) -> Tally:
    """Send ``requests`` (cycled) over ``connections`` for ``seconds``; an answer slower than
    ``patience`` is a client timeout. A client told 429 or 503 waits as long as Retry-After
    says (with jitter), as a well-behaved one does, unless ``honour_retry_after`` is False (it
    then retries at once: the worst case, where the server spends its time refusing)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    tally = Tally()
    # Connected before the clock starts, as a client's pool is: the figures are the requests',
    # not those of 500 handshakes at the same instant.
    async with asyncio.timeout(30):
        streams = await asyncio.gather(
            *(asyncio.open_connection(host, port) for _ in range(connections))
        )
    loop = asyncio.get_running_loop()
    started = loop.time()
    until = started + seconds
    turn = itertools.cycle(requests)
    await asyncio.gather(
        *(
            _connection(host, port, stream, turn, until, tally, patience, honour_retry_after)
            for stream in streams
        )
    )
    tally.seconds = loop.time() - started
    return tally


async def _connection(
    host: str,
    port: int,
    stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None,
    turn: itertools.cycle[bytes],
    until: float,
    tally: Tally,
    patience: float,
    honour: bool,
) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        began = time.perf_counter()
        try:
            async with asyncio.timeout(patience):
                if stream is None:
                    stream = await asyncio.open_connection(host, port)
                reader, writer = stream
                writer.write(next(turn))
                status, retry_after, keep, body = await _response(reader)
        except TimeoutError:
            tally.timeouts += 1
            _close(stream)
            stream = None
            continue
        except (OSError, asyncio.IncompleteReadError, ValueError):
            tally.errors += 1
            _close(stream)
            stream = None
            await asyncio.sleep(0.05)
            continue
        tally.add(status, time.perf_counter() - began)
        if status == 503 and b"time-budget-spent" in body:
            tally.over_budget += 1
        if not keep:
            _close(stream)
            stream = None
        if honour and status in (429, 503):
            wait = min(retry_after, max(0.0, until - loop.time()))
            await asyncio.sleep(wait * random.uniform(0.5, 1.5))
    _close(stream)


async def _response(reader: asyncio.StreamReader) -> tuple[int, float, bool, bytes]:
    """Status, Retry-After (seconds), whether the connection stays open, and the body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, retry_after, keep = 0, 1.0, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "retry-after":
            retry_after = float(value)
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
    body = await reader.readexactly(length) if length else b""
    return status, retry_after, keep, body


def _close(stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    """Close the connection, if open; the caller opens a new one for its next request."""
    if stream is not None:
        stream[1].close()
