"""What the admin-page tests share: the demo loaded into a fresh SQLite copy with the people a
module logs in as, a TestClient logged in through the login form, and a campaign of the demo
airline built from the API with its uplift model trained."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from offerengine.app import create_app
from offerengine.auth import users
from offerengine.auth.core import Actor, ActorKind, Role
from offerengine.cli import app as cli
from offerengine.demo import service as demo
from offerengine.settings import Settings
from offerengine.tenants import service as tenants
from offerengine.units import run_in_transaction
from tests.conftest import fresh_sqlite, make_settings
from tests.e2e import test_admin_sessions as sessions
from tests.e2e.test_promotions import _promotion

# Every user the tests make has this password.
PASSWORD = "a long enough password"
SYSTEM = Actor(ActorKind.SYSTEM, None, "test")


def demo_with_people(
    sqlite_template: Path, folder: Path, people: Sequence[tuple[str, str, str]]
) -> Settings:
    """Settings of a fresh SQLite copy in FOLDER with the demo loaded and PEOPLE (tenant code,
    email, role) made with PASSWORD."""
    settings = make_settings(fresh_sqlite(sqlite_template, folder), folder)

    async def load(session) -> None:  # type: ignore[no-untyped-def]
        await demo.load(session, actor=SYSTEM)
        for code, email, role in people:
            found = await tenants.find(session, code)
            await users.create_user(
                session,
                tenant_id=found.id if found else None,
                email=email,
                role=Role(role),
                password=PASSWORD,
                actor=SYSTEM,
            )

    asyncio.run(run_in_transaction(settings, load))
    return settings


def log_in(client: TestClient, email: str) -> str:
    """Logs CLIENT in as EMAIL through the login form; returns the session's CSRF token."""
    done = sessions.log_in(client, email)
    assert done.status_code == 303, done.text
    return sessions.session_csrf(client, "/admin")


def logged_in(settings: Settings, email: str) -> TestClient:
    """An entered TestClient whose session is EMAIL's, logged in through the login form; the
    caller exits it."""
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    client.__enter__()
    log_in(client, email)
    return client


def trained_campaign(
    client: TestClient, settings: Settings, *, code: str, name: str, channel: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """The session's CSRF header and a running campaign of the demo airline (SAVE15, 300.00 EUR,
    30 % holdout) made through the logged-in CLIENT, once SAVE15's uplift model is trained."""
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/admin").text)
    assert token
    headers = {"X-CSRF-Token": token.group(1)}
    saved = client.put(
        "/v1/admin/tenants/OE/promotions",
        json={"promotions": [_promotion(budget="10000.00")]},
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    trained = CliRunner().invoke(
        cli,
        ["train-uplift", "--tenant", "OE", "--promotion", "SAVE15", "--synthetic", "3000"],
        env={"OFFERENGINE_DATABASE_URL": settings.database_url},
    )
    assert trained.exit_code == 0, trained.output
    now = datetime.now(UTC)
    made = client.post(
        "/v1/admin/tenants/OE/campaigns",
        json={
            "code": code,
            "name": name,
            "promotions": ["SAVE15"],
            "channel": channel,
            "currency": "EUR",
            "budget": "300.00",
            "starts_at": (now - timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(),
            "holdout_share": 0.3,
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    campaign: dict[str, Any] = made.json()
    return headers, campaign
