"""Caps hold when Redis loses its counts: a redis-server of the test's own, restarted without
persistence (every key gone), or a deployment that counted in the database switching to Redis.
A capped offer is never proposed past its cap; meanwhile a decision is a 503 with Retry-After,
and decisions are served again within seconds, from counts rebuilt from the database."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from offerengine.db.engine import create_sync_engine
from tests.helpers import Api, capped_activity, create_key, create_tenant
from tests.own_servers import own_redis, until
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


def _setup(client: httpx.Client, window: dict[str, Any]) -> tuple[Api, str]:
    create_tenant(client, "RC")
    owner = Api(client, create_key(client, "RC", "owner"))
    activity = capped_activity(owner, "RC", limit=CAP, window=window)
    return Api(client, create_key(client, "RC", "runtime")), activity


WINDOWS = pytest.mark.parametrize(
    "window",
    [
        {"type": "lifetime"},
        {"type": "calendar", "unit": "day"},
        {"type": "rolling", "unit": "hour"},
    ],
    ids=["lifetime", "calendar", "rolling"],
)


@WINDOWS
def test_a_redis_restarted_empty_never_lets_a_cap_be_exceeded(
    sqlite_url: str, tmp_path: Path, window: dict[str, Any]
) -> None:
    with own_redis(tmp_path / "redis") as redis_server:
        prefix = f"oe-recount-{uuid.uuid4().hex[:8]}"
        with (
            serve(sqlite_url, tmp_path, redis_url=redis_server.url, redis_prefix=prefix) as base,
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            runtime, activity = _setup(client, window)
            started = time.monotonic()
            shown = sum(_proposed(runtime, activity, f"p{i}") for i in range(CAP))
            assert shown == CAP
            # What was decided is stored (the stream's consumer writes it within moments).
            until(lambda: _stored_decisions(sqlite_url) >= CAP, SECONDS, "decisions stored")
            redis_server.restart()
            restarted = time.monotonic()
            shown += sum(_proposed(runtime, activity, f"q{i}") for i in range(2 * CAP))
            assert shown == CAP
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
