"""The dashboard's cap utilisation reads the counters where decisions count them: the database,
or Redis when it is configured; calendar and rolling windows alike."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.auth import users
from offerengine.auth.core import Actor, ActorKind, Role
from offerengine.tenants import service as tenants
from offerengine.units import run_in_transaction
from tests.conftest import REDIS_URL, make_settings, need
from tests.helpers import Api, create_key, create_tenant

BASE = "/v1/admin/tenants/CU/decisioning"
PASSWORD = "a long enough password"


@pytest.mark.parametrize("backend", ["database", pytest.param("redis", marks=pytest.mark.redis)])
def test_cap_utilisation_counts_what_decisions_counted(
    backend: str, sqlite_url: str, tmp_path: Path, redis_available: bool
) -> None:
    extra: dict[str, Any] = {}
    if backend == "redis":
        need("Redis", redis_available)
        extra["redis_url"] = REDIS_URL
    settings = make_settings(sqlite_url, tmp_path, **extra)
    with TestClient(create_app(settings)) as client:
        create_tenant(client, "CU")
        owner = Api(client, create_key(client, "CU", "owner"))

        def make(kind: str, body: dict[str, Any]) -> str:
            response = owner.post(f"{BASE}/{kind}", json=body)
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        hero = make("placements", {"name": "Hero", "channel": "web", "content_type": "json"})
        make(
            "offers",
            {
                "name": "Lounge",
                "status": "approved",
                "tags": ["t"],
                "representations": [{"placement_id": hero, "content": {"h": "Lounge"}}],
                "capping": [
                    {"scope": "global", "limit": 10, "window": {"type": "calendar", "unit": "day"}},
                    {
                        "scope": "global",
                        "limit": 40,
                        "window": {"type": "rolling", "unit": "hour", "count": 2},
                    },
                    {"scope": "profile", "limit": 5},
                ],
            },
        )
        fallback = make(
            "fallback-offers",
            {"name": "Hi", "representations": [{"placement_id": hero, "content": {"h": "Hi"}}]},
        )
        collection = make("collections", {"name": "All", "tags": ["t"]})
        activity = make(
            "activities",
            {
                "name": "Hero",
                "status": "approved",
                "placement_id": hero,
                "collection_id": collection,
                "fallback_offer_id": fallback,
            },
        )
        runtime = Api(client, create_key(client, "CU", "runtime"))
        for i in range(3):
            decided = runtime.post(
                "/v1/decisions", json={"profile": {"id": f"p{i}"}, "activities": [activity]}
            )
            assert decided.status_code == 200, decided.text
        dry = runtime.post(
            "/v1/decisions",
            json={"profile": {"id": "p9"}, "activities": [activity], "dry_run": True},
        )
        assert dry.status_code == 200

        async def person(session) -> None:  # type: ignore[no-untyped-def]
            found = await tenants.find(session, "CU")
            await users.create_user(
                session,
                tenant_id=found.id if found else None,
                email="cu@example.com",
                role=Role.VIEWER,
                password=PASSWORD,
                actor=Actor(ActorKind.SYSTEM, None, "test"),
            )

        asyncio.run(run_in_transaction(settings, person))
        page = client.get("/admin/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        client.post(
            "/admin/login",
            data={"email": "cu@example.com", "password": PASSWORD, "csrf_token": token.group(1)},
        )
        dashboard = client.get("/admin").text
        caps = dashboard[dashboard.index("Cap utilisation") :]
        caps = caps[: caps.index("</table>")]
        # Three decisions counted, the dry run not; the per-profile cap is not listed.
        assert "<td>calendar day</td><td>3</td><td>10</td>" in caps
        assert "<td>rolling 2 hour</td><td>3</td><td>40</td>" in caps
        assert caps.count("<tr><td>Lounge</td>") == 2
