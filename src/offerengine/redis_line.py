"""One pipelined Redis connection per worker, for the commands of the hot path.

redis-py's asyncio client takes a pooled connection for each command and wraps it in retries,
timeouts and telemetry. Under concurrent decisions that cost ~200 µs of CPU per cap check: on
bench/decide.py's tenant, dry runs over HTTP did a quarter more per second with the cap check
taken out altogether (a throwaway experiment). Redis answers the commands of one connection in
the order they came, so the requests of a worker can share one connection: each writes its
command as it comes and is handed its reply in turn. hiredis (the C library redis-py also uses
when installed) packs the commands and parses the replies; this module only keeps the order.

Failures are redis-py's exceptions, so callers handle both clients alike: a reply that never
comes within ``timeout`` closes the connection and fails every command waiting on it
(``TimeoutError``); a closed connection fails them (``ConnectionError``), and the next command
connects again. The rest of the app keeps redis-py's client (pub/sub, pipelines, admin reads).
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import hiredis
from redis import exceptions as rx
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection, parse_url

_SUPPORTED = {"host", "port", "db", "username", "password", "path", "connection_class"}


@dataclass(frozen=True)
class Script:
    """A Lua script, run by its SHA-1 once Redis knows it."""

    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "sha", hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()
        )


class _Protocol(asyncio.Protocol):
    def __init__(self, on_lost: Any) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader(protocolError=rx.ConnectionError, replyError=rx.ResponseError)
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.lost: Exception | None = None
        self._on_lost = on_lost
        self._outbox: list[bytes] = []  # commands of this loop iteration, written at its end

    def send(self, data: bytes) -> None:
        """Queue packed commands; every command of one loop iteration goes out in one write (one
        system call for the many concurrent requests a busy worker serves per iteration)."""
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._drain)
        self._outbox.append(data)

    def _drain(self) -> None:
        data, self._outbox = self._outbox, []
        if self.transport is not None and self.lost is None and data:
            self.transport.write(b"".join(data))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        waiting = self.waiting
        try:
            while (reply := reader.gets()) is not False:
                future, _ = waiting.popleft()
                if future.done():  # its request was cancelled: the reply is dropped
                    continue
                if isinstance(reply, rx.ResponseError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except (rx.ConnectionError, IndexError):  # a reply nobody asked for: the line is broken
            self.abort(
                rx.ConnectionError("Redis sent a reply out of turn; the connection is closed")
            )

    def abort(self, error: Exception) -> None:
        self.lost = self.lost or error
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        error = self.lost or rx.ConnectionError(
            f"the connection to Redis was lost: {exc or 'closed'}"
        )
        self.lost = error
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)
        self._on_lost(self)


class RedisLine:
    """Commands over one shared connection (see the module's doc)."""

    def __init__(self, url: str, *, timeout: float = 5.0, connect_timeout: float = 2.0) -> None:
        options = parse_url(url)
        unknown = sorted(set(options) - _SUPPORTED)
        if unknown:
            raise ValueError(
                f"the Redis URL's options {', '.join(unknown)} are not supported by the "
                "counters' connection; use host, port, db, user and password (redis://, "
                "rediss:// or unix://)"
            )
        self._options = options
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._watch: asyncio.TimerHandle | None = None
        self._closed = False

    async def execute(self, *args: Any) -> Any:
        """One command's reply; an error reply is raised as ``ResponseError``."""
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        return await self._send(protocol, args)

    async def execute_many(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Several commands written at once (one packet), their replies in order; the first
        error reply is raised once every reply has come."""
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        assert protocol.transport is not None
        loop = asyncio.get_running_loop()
        if not protocol.waiting and self._watch is None:
            self._watch = loop.call_later(self._timeout, self._check)
        now = time.monotonic()
        futures: list[asyncio.Future[Any]] = []
        for _ in commands:
            future: asyncio.Future[Any] = loop.create_future()
            protocol.waiting.append((future, now))
            futures.append(future)
        protocol.send(b"".join([hiredis.pack_command(c) for c in commands]))
        # The replies come together, in order: awaiting each is cheaper than a gather.
        replies: list[Any] = []
        error: BaseException | None = None
        for future in futures:
            try:
                replies.append(await future)
            except (rx.RedisError, OSError) as exc:
                error = error or exc
                replies.append(exc)
        if error is not None:
            raise error
        return replies

    async def evalsha(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        """Run ``script``; it is loaded first if this Redis does not know it yet."""
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except rx.ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        await self.execute("SCRIPT", "LOAD", script.source)
        return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)

    async def close(self) -> None:
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None

    def _send(self, protocol: _Protocol, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        assert protocol.transport is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not protocol.waiting and self._watch is None:
            self._watch = asyncio.get_running_loop().call_later(self._timeout, self._check)
        protocol.waiting.append((future, time.monotonic()))
        protocol.send(hiredis.pack_command(args))
        return future

    def _check(self) -> None:
        """Close a connection whose oldest waiting command has had no reply for too long."""
        self._watch = None
        protocol = self._protocol
        if protocol is None or not protocol.waiting:
            return
        waited = time.monotonic() - protocol.waiting[0][1]
        if waited >= self._timeout:
            protocol.abort(rx.TimeoutError(f"Redis did not answer within {self._timeout:g} s"))
            return
        self._watch = asyncio.get_running_loop().call_later(self._timeout - waited, self._check)

    def _lost(self, protocol: _Protocol) -> None:
        if self._protocol is protocol:
            self._protocol = None

    async def _connect(self) -> _Protocol:
        if self._closed:
            raise rx.ConnectionError("the Redis connection is closed")
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
            self._connecting.add_done_callback(lambda _: setattr(self, "_connecting", None))
        return await asyncio.shield(self._connecting)

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        options = self._options
        cls = options.get("connection_class")
        protocol: _Protocol | None = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                if cls is UnixDomainSocketConnection:
                    _, protocol = await loop.create_unix_connection(
                        lambda: _Protocol(self._lost), options["path"]
                    )
                else:
                    _, protocol = await loop.create_connection(
                        lambda: _Protocol(self._lost),
                        options.get("host", "localhost"),
                        options.get("port", 6379),
                        ssl=ssl.create_default_context() if cls is SSLConnection else None,
                    )
                if options.get("password"):
                    user = [options["username"]] if options.get("username") else []
                    await self._send(protocol, ("AUTH", *user, options["password"]))
                if options.get("db"):
                    await self._send(protocol, ("SELECT", options["db"]))
        except BaseException as exc:
            if protocol is not None and protocol.transport is not None:
                protocol.transport.abort()
            if isinstance(exc, OSError):  # refused, unreachable, or the connect timeout
                raise rx.ConnectionError(f"cannot connect to Redis: {exc or 'timed out'}") from exc
            raise
        self._protocol = protocol
        return protocol
