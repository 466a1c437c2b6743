"""Capping is exact: concurrent decisions from several workers never pass a global cap of N or a
per-profile cap of k, on SQLite and PostgreSQL, and the global cap is reached exactly."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.helpers import Api, create_key, create_tenant
from tests.servers import serve

pytestmark = pytest.mark.slow
GLOBAL_CAP = 10
PROFILE_CAP = 2
PROFILES = 12
PER_PROFILE = 5
BASE = "/v1/admin/tenants/CP/decisioning"


def _configure(client: httpx.Client, window: dict[str, Any]) -> tuple[Api, str, str]:
    create_tenant(client, "CP")
    owner = Api(client, create_key(client, "CP", "owner"))

    def make(kind: str, body: dict[str, Any]) -> str:
        response = owner.post(f"{BASE}/{kind}", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    hero = make("placements", {"name": "Hero", "channel": "web", "content_type": "json"})
    offer = make(
        "offers",
        {
            "name": "Lounge",
            "status": "approved",
            "tags": ["t"],
            "representations": [{"placement_id": hero, "content": {"h": "Lounge"}}],
            "capping": [
                {"scope": "global", "limit": GLOBAL_CAP, "window": window},
                {
                    "scope": "profile",
                    "limit": PROFILE_CAP,
                    "window": {"type": "calendar", "unit": "day"},
                    "timezone": "Europe/Istanbul",
                },
            ],
        },
    )
    fallback = make(
        "fallback-offers",
        {"name": "Hello", "representations": [{"placement_id": hero, "content": {"h": "Hi"}}]},
    )
    collection = make("collections", {"name": "All", "tags": ["t"]})
    activity = make(
        "activities",
        {
            "name": "Home",
            "status": "approved",
            "placement_id": hero,
            "collection_id": collection,
            "fallback_offer_id": fallback,
        },
    )
    return Api(client, create_key(client, "CP", "runtime")), activity, offer


# The global cap counts for good, or within a rolling day (counted as events in a window).
WINDOWS = pytest.mark.parametrize(
    "window",
    [{"type": "lifetime"}, {"type": "rolling", "unit": "day"}],
    ids=["lifetime", "rolling"],
)


@WINDOWS
def test_concurrent_decisions_reach_the_global_cap_exactly_and_never_a_profile_cap(
    database_url: str, tmp_path: Path, window: dict[str, Any]
) -> None:
    _race(database_url, None, tmp_path, window)


@WINDOWS
@pytest.mark.redis
def test_with_redis_counters_too(
    sqlite_url: str, redis_url: str, tmp_path: Path, window: dict[str, Any]
) -> None:
    _race(sqlite_url, redis_url, tmp_path, window)


def _race(database_url: str, redis_url: str | None, tmp_path: Path, window: dict[str, Any]) -> None:
    with (
        serve(
            database_url,
            tmp_path,
            workers=3,
            redis_url=redis_url,
            redis_prefix=f"oe-cap-{uuid.uuid4().hex[:8]}",
        ) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        runtime, activity, offer = _configure(client, window)
        # Every worker has the activity (configuration reaches the workers within moments).
        deadline = time.monotonic() + 20
        streak = 0
        while streak < 9 and time.monotonic() < deadline:
            probe = runtime.post(
                "/v1/decisions",
                json={"profile": {"id": "probe"}, "activities": [activity], "dry_run": True},
            )
            streak = streak + 1 if probe.status_code == 200 else 0
        assert streak == 9, probe.text

        def attempt(i: int) -> tuple[str, str]:
            profile = f"p{i % PROFILES}"
            with httpx.Client(base_url=url, timeout=60) as own:
                response = Api(own, runtime.key).post(
                    "/v1/decisions",
                    json={"profile": {"id": profile}, "activities": [activity]},
                )
            assert response.status_code == 200, response.text
            return profile, response.json()["propositions"][0]["items"][0]["offer_id"]

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(attempt, range(PROFILES * PER_PROFILE)))
        proposed = [profile for profile, offer_id in results if offer_id == offer]
        assert len(proposed) == GLOBAL_CAP
        assert max(Counter(proposed).values()) <= PROFILE_CAP
        explained = runtime.post(
            "/v1/decisions",
            json={
                "profile": {"id": "late"},
                "activities": [activity],
                "dry_run": True,
                "explain": True,
            },
        ).json()
        fate = explained["explain"]["activities"][activity]["fates"][0]
        assert (fate["stage"], fate["count"], fate["limit"]) == ("capping", GLOBAL_CAP, GLOBAL_CAP)
