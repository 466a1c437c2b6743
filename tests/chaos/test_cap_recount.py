"""Caps hold when Redis loses its counts: a redis-server of the test's own, restarted without
persistence (every key gone) between decisions or under concurrent ones, or a deployment that
counted in the database switching to Redis. A capped offer is never proposed past its cap;
meanwhile a decision is a 503 with Retry-After, and decisions are served again within seconds,
from counts rebuilt from the database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from offerengine.db.engine import create_sync_engine
from tests.conftest import fresh_sqlite
from tests.helpers import Api, capped_activity, create_key, create_tenant
from tests.own_servers import OwnRedis, own_redis, until
from tests.servers import serve

pytestmark = [pytest.mark.redis, pytest.mark.slow]
CAP = 10
SECONDS = 20.0


def _proposed(runtime: Api, activity: str, profile: str) -> bool:
    """Decide once, retrying a 503 (with Retry-After) until served; whether the capped offer
    was proposed (else the fallback)."""
    deadline = time.monotonic() + SECONDS
    while True:
        answer = runtime.post(
            "/v1/decisions", json={"profile": {"id": profile}, "activities": [activity]}
        )
        if answer.status_code == 200:
            item = answer.json()["propositions"][0]["items"][0]
            return not item["fallback"]
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"]
        assert time.monotonic() < deadline, f"still {answer.status_code}: {answer.text}"
        time.sleep(0.1)


def _stored_decisions(database_url: str) -> int:
    engine = create_sync_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(sa.text("SELECT count(*) FROM decisions")) or 0)
    finally:
        engine.dispose()


def _setup(
    client: httpx.Client, window: dict[str, Any], limit: int = CAP, tenant: str = "RC"
) -> tuple[Api, str]:
    create_tenant(client, tenant)
    owner = Api(client, create_key(client, tenant, "owner"))
    activity = capped_activity(owner, tenant, limit=limit, window=window)
    return Api(client, create_key(client, tenant, "runtime")), activity


WINDOWS = {  # a tenant for each kind of window, all on one server
    "RL": {"type": "lifetime"},
    "RD": {"type": "calendar", "unit": "day"},
    "RH": {"type": "rolling", "unit": "hour"},
}


@dataclass(frozen=True)
class Recounting:
    """A server counting caps in a Redis of its own, which the tests restart."""

    base: str
    database_url: str
    redis: OwnRedis


@pytest.fixture(scope="module")
def recounting(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Recounting]:
    """One server for the restarts below (each test has tenants of its own). Records go to the
    database's write-behind, which a rebuild flushes before it counts: with records on Redis
    streams, those a consumer had not stored yet when Redis lost them cannot be counted
    (docs/decisioning.md says so), and under concurrent traffic there always are some."""
    folder = tmp_path_factory.mktemp("recount")
    database_url = fresh_sqlite(sqlite_template, folder)
    records = {"OFFERENGINE_RECORDS": "database"}
    prefix = f"oe-recount-{uuid.uuid4().hex[:8]}"
    with (
        own_redis(folder / "redis") as redis_server,
        serve(
            database_url,
            folder,
            redis_url=redis_server.url,
            redis_prefix=prefix,
            extra_env=records,
        ) as base,
    ):
        yield Recounting(base, database_url, redis_server)


def test_a_redis_restarted_empty_never_lets_a_cap_be_exceeded(recounting: Recounting) -> None:
    with httpx.Client(base_url=recounting.base, timeout=30) as client:
        capped = {code: _setup(client, window, tenant=code) for code, window in WINDOWS.items()}
        stored = _stored_decisions(recounting.database_url) + CAP * len(WINDOWS)
        started = time.monotonic()
        shown = {}
        for code, (runtime, activity) in capped.items():
            shown[code] = sum(_proposed(runtime, activity, f"p{i}") for i in range(CAP))
        assert shown == dict.fromkeys(WINDOWS, CAP)
        # What was decided is stored (the write-behind flushes within moments).
        until(
            lambda: _stored_decisions(recounting.database_url) >= stored,
            SECONDS,
            "decisions stored",
        )
        recounting.redis.restart()
        restarted = time.monotonic()
        for code, (runtime, activity) in capped.items():
            shown[code] += sum(_proposed(runtime, activity, f"q{i}") for i in range(2 * CAP))
        assert shown == dict.fromkeys(WINDOWS, CAP), WINDOWS
        print(
            f"decided before {restarted - started:.1f} s, after {time.monotonic() - restarted:.1f} s"
        )


def test_switching_from_database_counters_to_redis_keeps_the_counts(
    sqlite_url: str, tmp_path: Path
) -> None:
    with serve(sqlite_url, tmp_path) as base, httpx.Client(base_url=base, timeout=30) as client:
        runtime, activity = _setup(client, {"type": "lifetime"})
        shown = sum(_proposed(runtime, activity, f"p{i}") for i in range(CAP + 2))
        assert shown == CAP
    with (
        own_redis(tmp_path / "redis") as redis_server,
        serve(sqlite_url, tmp_path, redis_url=redis_server.url, redis_prefix="oe-switch") as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        runtime = Api(client, runtime.key)
        shown += sum(_proposed(runtime, activity, f"q{i}") for i in range(2 * CAP))
        assert shown == CAP


BUSY_CAP = 40
CLIENTS = 6


async def _decide_under_restart(
    base: str, key: str, activity: str, restart: Any
) -> tuple[Counter[int], int, int, list[str]]:
    """``CLIENTS`` clients deciding for new profiles without pause; once a quarter of the cap
    is proposed, ``restart`` (in a thread) while they go on; stopped once the cap is reached and
    as many decisions again are served. The statuses, proposals before the restart and in all,
    and what was wrong (neither a 200 nor a 503 with Retry-After)."""
    statuses: Counter[int] = Counter()
    wrong: list[str] = []
    proposed = 0
    served_after = 0
    restarted = asyncio.Event()
    stop = asyncio.Event()

    async def client(n: int) -> None:
        nonlocal proposed, served_after
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base, timeout=15, headers=headers) as http:
            i = 0
            while not stop.is_set():
                body = {"profile": {"id": f"c{n}-{i}"}, "activities": [activity]}
                i += 1
                answer = await http.post("/v1/decisions", json=body)
                statuses[answer.status_code] += 1
                if answer.status_code == 200:
                    item = answer.json()["propositions"][0]["items"][0]
                    proposed += not item["fallback"]
                    served_after += restarted.is_set()
                elif answer.status_code == 503 and answer.headers.get("retry-after"):
                    await asyncio.sleep(0.05)
                else:
                    wrong.append(f"{answer.status_code} {answer.text[:300]}")

    async def conductor() -> int:
        deadline = time.monotonic() + SECONDS
        while proposed < BUSY_CAP // 4:
            assert time.monotonic() < deadline, f"only {proposed} proposed before the restart"
            await asyncio.sleep(0.01)
        before = proposed
        await asyncio.to_thread(restart)
        restarted.set()

        deadline = time.monotonic() + SECONDS
        while proposed < BUSY_CAP or served_after < BUSY_CAP:
            if time.monotonic() > deadline or wrong:
                break
            await asyncio.sleep(0.05)
        stop.set()
        return before

    clients = [asyncio.create_task(client(n)) for n in range(CLIENTS)]
    try:
        before = await conductor()
    finally:
        stop.set()
        await asyncio.gather(*clients)
    return statuses, before, proposed, wrong


def test_a_redis_restarted_under_concurrent_decisions_never_lets_a_cap_be_exceeded(
    recounting: Recounting,
) -> None:
    with httpx.Client(base_url=recounting.base, timeout=30) as client:
        runtime, activity = _setup(client, {"type": "lifetime"}, limit=BUSY_CAP, tenant="RB")
    assert runtime.key is not None
    statuses, before, proposed, wrong = asyncio.run(
        _decide_under_restart(recounting.base, runtime.key, activity, recounting.redis.restart)
    )
    print(f"decisions {dict(statuses)}: {before} proposed before the restart, {proposed} in all")
    assert wrong == [], wrong[:5]
    assert before < BUSY_CAP  # the restart came while the cap had room
    assert proposed == BUSY_CAP  # never more; and the rest once the counts were rebuilt
