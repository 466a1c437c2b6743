"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 (a free port), in a thread,
that keeps every request it gets and answers with the statuses it is given; an https one when
given a TLS context (tests/certificates.py makes one)."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """What the receiver got, in order; ``statuses`` answer the first requests (then 204)."""

    def __init__(
        self, statuses: list[int] | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.received: list[Received] = []
        self.statuses = list(statuses or [])
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.tls = tls
        self.port = int(self.server.server_address[1])
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/hook"

    @property
    def handshakes_failed(self) -> int:
        """TLS handshakes that failed: clients that did not trust the certificate."""
        return self.server.handshakes_failed

    def answer(self, *statuses: int) -> None:
        """Answer the next requests with ``statuses``."""
        with self._lock:
            self.statuses = list(statuses)

    def wait_for(self, count: int, seconds: float = 15.0) -> list[Received]:
        """The requests once there are ``count`` of them (or what came by the deadline)."""
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # deliverers connect side by side; the default backlog is 5
    tls: ssl.SSLContext | None = None
    handshakes_failed = 0

    def finish_request(self, request: Any, client_address: Any) -> None:
        """With TLS, the handshake first, in the request's own thread (not the accepting one);
        a client that does not trust the certificate ends it, and is counted."""
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)  # closed if it fails
        except (ssl.SSLError, OSError):
            self.handshakes_failed += 1
            return
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()


@contextmanager
def receiving(
    statuses: list[int] | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[Receiver]:
    """A running :class:`Receiver` (https with ``tls``), shut down afterwards."""
    receiver = Receiver(statuses, tls)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(timeout=5)
