"""Overload protection in the run-time app, with endpoints these tests control: excess requests
shed with a fast 503 before anything costly, per-key and per-tenant token buckets answering 429
with the IETF RateLimit headers, and a time budget after which a request answers 503 having
changed nothing. The key cache and the snapshot builder are fakes at their seams (no database)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
import pytest
from starlette.datastructures import State
from starlette.responses import Response

from offerengine import budget
from offerengine.auth.core import Principal, Role
from offerengine.catalog.core import CatalogIndex
from offerengine.experiments.core import ExperimentIndex
from offerengine.flags.core import FlagIndex
from offerengine.http.limits import Guard
from offerengine.http.runtime import Call, Operation, RuntimeApp, respond
from offerengine.network.core import Network
from offerengine.pricing.core import PricingIndex
from offerengine.ratelimit import LocalBuckets, Rate
from offerengine.settings import Settings
from offerengine.shopping.core import ShoppingConfig
from offerengine.snapshots.core import Snapshot, TenantFacts
from offerengine.snapshots.store import SnapshotStore

TENANT = uuid.uuid4()
KEYS = {"oek_one": uuid.uuid4(), "oek_two": uuid.uuid4()}


class FakeKeys:
    """Every secret in KEYS is a live runtime key of TENANT."""

    async def verify(self, secret: str) -> Principal | None:
        key_id = KEYS.get(secret)
        return None if key_id is None else Principal(key_id, TENANT, Role.RUNTIME, secret)


@dataclass
class FakeContext:
    """What serving a run-time operation reads of the app context."""

    tenant_settings: dict[str, Any] = field(default_factory=dict)
    line: None = None
    keys: FakeKeys = field(default_factory=FakeKeys)
    snapshots: SnapshotStore = field(init=False)

    def __post_init__(self) -> None:
        self.snapshots = SnapshotStore(self._build)

    async def _build(self, tenant_id: uuid.UUID) -> Snapshot:
        return Snapshot(
            tenant=TenantFacts(
                tenant_id, "OE", "OE", "airline", "USD", "UTC", "active", self.tenant_settings
            ),
            version=1,
            build_seconds=0.0,
            catalog=CatalogIndex.build([]),
            network=Network.build([]),
            pricing=PricingIndex.build([], []),
            flags=FlagIndex.build([]),
            experiments=ExperimentIndex.build([]),
            shopping=ShoppingConfig.empty(),
        )


class Held:
    """An endpoint that waits until released: requests it serves stay in flight."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.entered = 0
        self.all_in = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, call: Call) -> Response:
        self.entered += 1
        if self.entered >= self.expected:
            self.all_in.set()
        await self.release.wait()
        return respond({"ok": True})


async def _ok(call: Call) -> Response:
    return respond({"ok": True})


def _app(endpoint: Any, context: FakeContext, **settings: Any) -> RuntimeApp:
    operation = Operation(
        method="POST", path_format="/v1/work", endpoint=endpoint, operation_id="work", tags=["t"]
    )
    state = State()
    state.context = context
    guard = Guard.from_settings(Settings(**settings))
    return RuntimeApp([operation], admin=_no_admin, state=state, guard=guard)


async def _built(context: FakeContext) -> FakeContext:
    """The context with the tenant's snapshot built already: a build (and the collection after
    it) takes longer than the budgets these tests set."""
    await context.snapshots.get(TENANT)
    return context


async def _no_admin(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("every request here is a run-time one")


@pytest.fixture
async def client_of() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(app: RuntimeApp, key: str = "oek_one") -> httpx.AsyncClient:
        made = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers={"Authorization": f"Bearer {key}"},
        )
        clients.append(made)
        return made

    yield make
    for made in clients:
        await made.aclose()


# --- shedding -------------------------------------------------------------------------------------


async def test_past_the_in_flight_limit_a_request_gets_a_fast_503_and_the_held_ones_finish(
    client_of: Any,
) -> None:
    held = Held(3)
    app = _app(held, FakeContext(), max_in_flight=3)
    client = client_of(app)
    waiting = [asyncio.create_task(client.post("/v1/work")) for _ in range(3)]
    await asyncio.wait_for(held.all_in.wait(), timeout=5)
    shed = await asyncio.wait_for(client.post("/v1/work"), timeout=1)
    assert shed.status_code == 503
    assert shed.headers["content-type"] == "application/problem+json"
    assert shed.headers["retry-after"] == "1"
    assert shed.json()["type"].endswith(":overloaded")
    assert held.entered == 3  # the shed request never reached the endpoint
    held.release.set()
    assert [r.status_code for r in await asyncio.gather(*waiting)] == [200, 200, 200]
    assert (await client.post("/v1/work")).status_code == 200  # room again


async def test_shedding_happens_before_authentication(client_of: Any) -> None:
    held = Held(1)
    app = _app(held, FakeContext(), max_in_flight=1)
    waiting = asyncio.create_task(client_of(app).post("/v1/work"))
    await asyncio.wait_for(held.all_in.wait(), timeout=5)
    assert (await client_of(app, "oek_unknown").post("/v1/work")).status_code == 503
    held.release.set()
    await waiting
    assert (await client_of(app, "oek_unknown").post("/v1/work")).status_code == 401


# --- rate limits ----------------------------------------------------------------------------------


async def test_a_key_over_its_tenants_limit_gets_429_with_retry_after_and_ratelimit_headers(
    client_of: Any,
) -> None:
    context = FakeContext({"rate_limit": {"per_second": 0.5, "burst": 2}})
    client = client_of(_app(_ok, context))
    assert [(await client.post("/v1/work")).status_code for _ in range(2)] == [200, 200]
    refused = await client.post("/v1/work")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith(":rate-limited")
    assert refused.headers["retry-after"] == "2"  # one token, at half a token a second
    assert refused.headers["ratelimit-policy"] == '"tenant";q=2;w=4'
    assert refused.headers["ratelimit"] == '"tenant";r=0;t=2'


async def test_a_keys_own_limit_leaves_the_tenants_other_keys_alone(client_of: Any) -> None:
    one = str(KEYS["oek_one"])
    context = FakeContext({"api_key_rate_limits": {one: {"per_second": 1, "burst": 1}}})
    app = _app(_ok, context)
    first, second = client_of(app, "oek_one"), client_of(app, "oek_two")
    assert (await first.post("/v1/work")).status_code == 200
    refused = await first.post("/v1/work")
    assert refused.status_code == 429
    assert refused.headers["ratelimit-policy"] == '"key";q=1;w=1'
    assert [(await second.post("/v1/work")).status_code for _ in range(5)] == [200] * 5


async def test_the_deployments_default_key_limit_applies_without_tenant_settings(
    client_of: Any,
) -> None:
    app = _app(_ok, FakeContext(), key_rate_limit_per_second=1, key_rate_limit_burst=3)
    client = client_of(app)
    statuses = [(await client.post("/v1/work")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_a_bucket_refills_at_its_rate_up_to_its_burst_and_a_refusal_takes_nothing() -> None:
    now = [100.0]
    buckets = LocalBuckets(clock=lambda: now[0])
    key, tenant = ("key", Rate(1.0, 2)), ("tenant", Rate(10.0, 3))
    assert [buckets.take([key, tenant]).allowed for _ in range(3)] == [True, True, False]
    now[0] += 0.5  # half a token for the key; the tenant's bucket must not have lost the third
    assert not buckets.take([key, tenant]).allowed
    now[0] += 0.5
    verdict = buckets.take([key, tenant])
    assert verdict.allowed
    assert verdict.levels == pytest.approx((0.0, 2.0))  # the tenant refilled to its burst of 3
    now[0] += 3600
    assert buckets.take([key]).levels == pytest.approx((1.0,))  # never above the burst


def test_a_refused_take_says_how_long_until_a_token() -> None:
    now = [0.0]
    buckets = LocalBuckets(clock=lambda: now[0])
    slow = ("key", Rate(0.25, 1))
    assert buckets.take([slow]).allowed
    refused = buckets.take([slow])
    assert not refused.allowed
    assert refused.wait == pytest.approx(4.0)


# --- the time budget ------------------------------------------------------------------------------


async def test_a_request_past_its_budget_before_writing_answers_503_and_writes_nothing(
    client_of: Any,
) -> None:
    written: list[str] = []

    async def slow(call: Call) -> Response:
        await asyncio.sleep(0.5)  # the read-only part, e.g. a slow query
        budget.commit()
        written.append("order")
        return respond({"ok": True})

    client = client_of(_app(slow, await _built(FakeContext()), time_budgets={"work": 0.05}))
    answer = await asyncio.wait_for(client.post("/v1/work"), timeout=0.4)
    assert answer.status_code == 503
    assert answer.json()["type"].endswith(":time-budget-spent")
    assert answer.headers["retry-after"] == "1"
    await asyncio.sleep(0.6)
    assert written == []


async def test_a_commit_past_the_deadline_is_refused_even_before_the_loop_notices(
    client_of: Any,
) -> None:
    written: list[str] = []

    async def busy(call: Call) -> Response:
        loop = asyncio.get_running_loop()
        until = loop.time() + 0.1
        while loop.time() < until:  # CPU work: no await for the timeout to cut
            pass
        budget.commit()
        written.append("order")
        return respond({"ok": True})

    client = client_of(_app(busy, await _built(FakeContext()), time_budgets={"work": 0.02}))
    assert (await client.post("/v1/work")).status_code == 503
    assert written == []


async def test_a_write_that_began_in_time_finishes_and_answers_even_past_the_deadline(
    client_of: Any,
) -> None:
    written: list[str] = []

    async def writes_slowly(call: Call) -> Response:
        budget.commit()
        await asyncio.sleep(0.2)  # the write itself, past the deadline: never cut
        written.append("order")
        return respond({"ok": True})

    context = await _built(FakeContext())
    client = client_of(_app(writes_slowly, context, time_budgets={"work": 0.05}))
    assert (await client.post("/v1/work")).status_code == 200
    assert written == ["order"]


async def test_outside_a_run_time_request_commit_is_free() -> None:
    budget.commit()  # the admin app and background tasks have no budget
    assert await budget.Budgets().within(1.0, asyncio.sleep(0, "done")) == "done"
