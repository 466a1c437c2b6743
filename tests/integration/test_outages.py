"""A database or Redis outage under traffic: every request is answered, 2xx or a 503 problem with
Retry-After (never a 500, never a dropped connection); ``/readyz`` names what is down; once it is
back, answers are 2xx again by themselves within seconds.

Each test stops a server of its own (tests/own_servers.py), never the shared ones.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
import pytest

from offerengine.db import migrate
from tests.conftest import reset_postgres
from tests.helpers import SEAT, Api, capped_activity, create_key, create_tenant
from tests.own_servers import own_postgres, own_redis, until
from tests.servers import serve

pytestmark = pytest.mark.slow
CLIENTS = 6
RECOVERY_SECONDS = 10.0


@dataclass
class Traffic:
    """Requests sent in a loop by a few concurrent clients, in a thread of its own, and what
    came back: statuses, and the problems of every answer that is neither 2xx nor a 503 with
    Retry-After (a 500, a reset, a timeout)."""

    base: str
    owner: str
    runtime: str
    activity: str
    statuses: Counter[int] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    last: dict[str, int] = field(default_factory=dict)  # by request, its latest status
    stop: threading.Event = field(default_factory=threading.Event)

    def requests(self) -> list[tuple[str, str, str, object]]:
        event = {"events": [{"type": "page_view", "profile_id": "p1"}]}
        decision = {"profile": {"id": "p1"}, "activities": [self.activity]}
        return [
            ("decide", "POST", "/v1/decisions", decision),
            ("orders", "GET", "/v1/orders", None),
            ("events", "POST", "/v1/events", event),
            ("catalog", "GET", "/v1/catalog/products", None),
            ("admin", "GET", "/v1/admin/tenants/OE/products", None),
        ]

    async def _client(self, n: int) -> None:
        keys = {"admin": self.owner}
        async with httpx.AsyncClient(base_url=self.base, timeout=15) as client:
            while not self.stop.is_set():
                for name, method, path, body in self.requests()[n % 5 :] + self.requests()[: n % 5]:
                    key = keys.get(name, self.runtime)
                    headers = {"Authorization": f"Bearer {key}"}
                    try:
                        answer = await client.request(method, path, json=body, headers=headers)
                    except httpx.HTTPError as exc:
                        self.wrong.append(f"{name}: {type(exc).__name__} {exc}")
                        continue
                    self._note(name, answer)

    def _note(self, name: str, answer: httpx.Response) -> None:
        status = answer.status_code
        self.statuses[status] += 1
        self.last[name] = status
        if status == 503:
            problem = answer.headers.get("content-type") == "application/problem+json"
            if not problem or not answer.headers.get("retry-after"):
                self.wrong.append(f"{name}: a 503 without Retry-After or problem: {answer.text}")
        elif not 200 <= status < 300:
            self.wrong.append(f"{name}: {status} {answer.text[:300]}")

    def run(self) -> None:
        async def clients() -> None:
            await asyncio.gather(*(self._client(n) for n in range(CLIENTS)))

        asyncio.run(clients())

    @property
    def all_ok(self) -> bool:
        return len(self.last) == 5 and all(200 <= s < 300 for s in self.last.values())


@dataclass
class Running:
    traffic: Traffic
    thread: threading.Thread


def _start(traffic: Traffic) -> Running:
    thread = threading.Thread(target=traffic.run, daemon=True)
    thread.start()
    return Running(traffic, thread)


def _finish(running: Running) -> None:
    running.traffic.stop.set()
    running.thread.join(timeout=30)
    assert not running.thread.is_alive()


def _tenant(base: str) -> tuple[str, str, str]:
    """A tenant with a product and a capped offer in an activity: its owner key, its runtime
    key and the activity's id."""
    with httpx.Client(base_url=base, timeout=30) as client:
        create_tenant(client, "OE")
        owner = Api(client, create_key(client, "OE", "owner"))
        assert owner.post("/v1/admin/tenants/OE/products", json=SEAT).status_code == 201
        activity = capped_activity(owner, "OE", limit=1_000_000)
        assert owner.key is not None
        return owner.key, create_key(client, "OE", "runtime"), activity


def _readiness(base: str) -> dict[str, str]:
    answer = httpx.get(f"{base}/readyz", timeout=10)
    checks: dict[str, str] = answer.json()["checks"]
    return checks


def _outage(
    base: str, traffic: Traffic, down: str, stop: Callable[[], None], start: Callable[[], None]
) -> None:
    """Traffic through an outage of ``down``: served, then away, then back."""
    running = _start(traffic)
    try:
        until(lambda: traffic.all_ok, 20, "traffic answered before the outage")
        stop()
        seen = traffic.statuses[503]
        until(lambda: traffic.statuses[503] > seen + 20, 20, "503s during the outage")
        assert _readiness(base)[down] != "ok"
        start()
        traffic.last.clear()
        back = time.monotonic()
        until(lambda: traffic.all_ok, RECOVERY_SECONDS, f"2xx again once the {down} is back")
        recovery = time.monotonic() - back
        assert _readiness(base)[down] == "ok"
    finally:
        _finish(running)
    assert traffic.wrong == [], traffic.wrong[:10]
    print(f"{down} outage: {dict(traffic.statuses)}; 2xx again {recovery:.1f} s after restart")


@pytest.mark.postgres
def test_a_database_outage_is_answered_503_with_retry_after_and_recovers(tmp_path: Path) -> None:
    with own_postgres() as pg:
        migrate.upgrade(pg.url)
        with serve(pg.url, tmp_path) as base:
            traffic = Traffic(base, *_tenant(base))
            _outage(base, traffic, "database", pg.stop, pg.start)


@pytest.mark.postgres
@pytest.mark.redis
def test_a_redis_outage_is_answered_503_with_retry_after_and_recovers(
    pg_schema_url: str, tmp_path: Path
) -> None:
    reset_postgres(pg_schema_url)
    with own_redis(tmp_path / "redis") as redis_server:
        prefix = f"oe-outage-{uuid.uuid4().hex[:8]}"
        with serve(
            pg_schema_url, tmp_path, redis_url=redis_server.url, redis_prefix=prefix
        ) as base:
            traffic = Traffic(base, *_tenant(base))
            _outage(base, traffic, "redis", redis_server.stop, redis_server.start)
