"""A database or Redis outage under traffic: every request is answered, 2xx or a 503 problem with
Retry-After (never a 500, never a dropped connection); ``/readyz`` names what is down; once it is
back, answers are 2xx again by themselves within seconds. Through a database outage a customer
books and confirms orders, retrying each 503 with its Idempotency-Key as a client does: afterwards
the orders are exactly those answered, and the flight's held and sold seats are exactly what the
orders hold (nothing half-written).

Each test stops a server of its own (tests/own_servers.py), never the shared ones.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
import pytest

from offerengine.db import migrate
from tests.helpers import (
    FARE,
    SEAT,
    Api,
    add_flight,
    capped_activity,
    create_key,
    create_tenant,
    passengers,
)
from tests.own_servers import OwnPostgres, OwnRedis, own_postgres, own_redis, until
from tests.servers import serve

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
CLIENTS = 6
BOOKERS = 2
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
    day: str | None = None  # a day with a flight: then a customer books and confirms orders
    orders: dict[str, str] = field(default_factory=dict)  # booked: id → status answered
    booking_refused: int = 0  # booking steps answered 503, and sent again
    # Set while stopping: a booking step under way is still retried until it is served, so
    # that the test knows each order's fate.
    booking_grace: threading.Event = field(default_factory=threading.Event)

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

    async def _booker(self, b: int) -> None:
        """Search, book (1 or 2 passengers) and confirm every other order, each step retried
        with the same request (and Idempotency-Key) while it is a 503, as a client does."""
        headers = {"Authorization": f"Bearer {self.runtime}"}
        async with httpx.AsyncClient(base_url=self.base, timeout=15, headers=headers) as client:
            n = 0
            while not self.stop.is_set():
                adults = 1 + n % 2
                search = {
                    "origin": "JFK",
                    "destination": "LHR",
                    "date": self.day,
                    "passengers": {"adults": adults},
                }
                found = await self._until_served(client, "POST", "/v1/offers/search", search)
                if found is None:
                    return
                offer = found.json()["offers"][0]["offer_id"]
                order = {"offer_id": offer, "passengers": passengers(adults)}
                booked = await self._until_served(
                    client, "POST", "/v1/orders", order, {"Idempotency-Key": f"chaos-{b}-{n}"}
                )
                if booked is None:
                    return
                self.orders[booked.json()["id"]] = "HELD"
                if n % 2 == 0:
                    path = f"/v1/orders/{booked.json()['id']}/confirm"
                    body = {"payment_reference": f"P{n}"}
                    if await self._until_served(client, "POST", path, body) is None:
                        return
                    self.orders[booked.json()["id"]] = "CONFIRMED"
                n += 1

    async def _until_served(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        body: object,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        """The first 2xx answer to the request, sent again after each 503 (None: stopped)."""
        while not self.stop.is_set() or self.booking_grace.is_set():
            try:
                answer = await client.request(method, path, json=body, headers=headers)
            except httpx.HTTPError as exc:
                self.wrong.append(f"booking: {type(exc).__name__} {exc}")
                return None
            self._note("booking", answer)
            if 200 <= answer.status_code < 300:
                return answer
            self.booking_refused += answer.status_code == 503
            if answer.status_code != 503:
                return None
            await asyncio.sleep(0.05)
        return None

    def run(self) -> None:
        async def clients() -> None:
            bookers = [self._booker(b) for b in range(BOOKERS)] if self.day else []
            await asyncio.gather(*(self._client(n) for n in range(CLIENTS)), *bookers)

        asyncio.run(clients())

    @property
    def all_ok(self) -> bool:
        expected = 6 if self.day else 5
        return len(self.last) == expected and all(200 <= s < 300 for s in self.last.values())


@dataclass
class Running:
    traffic: Traffic
    thread: threading.Thread


def _start(traffic: Traffic) -> Running:
    thread = threading.Thread(target=traffic.run, daemon=True)
    thread.start()
    return Running(traffic, thread)


def _finish(running: Running) -> None:
    running.traffic.booking_grace.set()
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


def _airline(base: str, owner: str) -> dict[str, object]:
    """A fare and a flight with room for every order the test can book."""
    with httpx.Client(base_url=base, timeout=30) as client:
        api = Api(client, owner)
        assert api.post("/v1/admin/tenants/OE/products", json=FARE).status_code == 201
        return add_flight(api, "OE", cabins={"ECONOMY": 2000})


def _check_orders(base: str, traffic: Traffic, flight: dict[str, object]) -> None:
    """The orders stored are those answered, in the state answered, and the flight's held and
    sold seats are the sums of what they hold."""
    api = httpx.Client(base_url=base, timeout=30)
    runtime = Api(api, traffic.runtime)
    with api:
        orders: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            more = {"cursor": cursor} if cursor else {}
            page = runtime.get("/v1/orders", params={"limit": 500} | more)
            assert page.status_code == 200, page.text
            orders |= {o["id"]: o for o in page.json()["items"]}
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        live = runtime.get(f"/v1/inventory/flights/{flight['id']}")
        assert live.status_code == 200, live.text
    assert traffic.orders, "no order was booked"
    assert traffic.booking_refused > 0, "no booking step met the outage"
    assert {i: o["status"] for i, o in orders.items()} == traffic.orders

    def seats(status: str) -> int:
        return sum(
            h["quantity"]
            for o in orders.values()
            if o["status"] == status
            for h in o["holds"]
            if h["resource"] == "ECONOMY"
        )

    economy = next(c for c in live.json()["cabins"] if c["resource"] == "ECONOMY")
    assert (economy["held"], economy["sold"]) == (seats("HELD"), seats("CONFIRMED"))
    print(
        f"orders: {len(orders)} ({traffic.booking_refused} steps retried after a 503), "
        f"seats held {economy['held']}, sold {economy['sold']}"
    )


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
        # /readyz says so too, by itself (once, on a loaded box, a probe right after Redis came
        # back still said "unreachable: ConnectionError" while traffic was already served).
        until(lambda: _readiness(base)[down] == "ok", RECOVERY_SECONDS, f"/readyz: {down} ok")
    finally:
        _finish(running)
    assert traffic.wrong == [], traffic.wrong[:10]
    print(f"{down} outage: {dict(traffic.statuses)}; 2xx again {recovery:.1f} s after restart")


@dataclass(frozen=True)
class Deployment:
    """A server on a PostgreSQL and a Redis of its own, with the airline the traffic uses."""

    base: str
    postgres: OwnPostgres
    redis: OwnRedis
    owner: str
    runtime: str
    activity: str
    flight: dict[str, object]

    def traffic(self, *, booking: bool = False) -> Traffic:
        day = str(self.flight["departure_local"])[:10] if booking else None
        return Traffic(self.base, self.owner, self.runtime, self.activity, day=day)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One server for both outages (each test brings its dependency back)."""
    folder = tmp_path_factory.mktemp("outages")
    prefix = f"oe-outage-{uuid.uuid4().hex[:8]}"
    with own_postgres() as pg, own_redis(folder / "redis") as redis_server:
        migrate.upgrade(pg.url)
        with serve(pg.url, folder, redis_url=redis_server.url, redis_prefix=prefix) as base:
            owner, runtime, activity = _tenant(base)
            flight = _airline(base, owner)
            yield Deployment(base, pg, redis_server, owner, runtime, activity, flight)


def test_a_database_outage_is_answered_503_with_retry_after_and_recovers(
    deployment: Deployment,
) -> None:
    traffic = deployment.traffic(booking=True)
    postgres = deployment.postgres
    _outage(deployment.base, traffic, "database", postgres.stop, postgres.start)
    _check_orders(deployment.base, traffic, deployment.flight)


def test_a_redis_outage_is_answered_503_with_retry_after_and_recovers(
    deployment: Deployment,
) -> None:
    traffic = deployment.traffic()
    redis_server = deployment.redis
    _outage(deployment.base, traffic, "redis", redis_server.stop, redis_server.start)
