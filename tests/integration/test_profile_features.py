"""Features from behaviour end to end, on SQLite and PostgreSQL: kept as events arrive over HTTP
and from the brokers' consumer (once per event, whatever the redeliveries), read by decisions'
rules, and rebuilt the same by `offerengine profiles rebuild-features`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from offerengine.app import create_app
from offerengine.cli import app as cli
from offerengine.db.engine import sync_url
from offerengine.recording import ingest
from offerengine.settings import Settings
from tests.conftest import make_settings
from tests.e2e.test_decisioning import Setup
from tests.helpers import Api, create_key, error_locs, tenant_api


@pytest.fixture
def app_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def owner(client: TestClient) -> Api:
    return tenant_api(client, "ZZ")  # base currency USD


@pytest.fixture
def runtime(client: TestClient, owner: Api) -> Api:
    return Api(client, create_key(client, "ZZ", "runtime"))


def _at(**ago: float) -> str:
    return (datetime.now(UTC) - timedelta(**ago)).isoformat()


def _send(runtime: Api, *events: dict[str, Any]) -> dict[str, Any]:
    response = runtime.post("/v1/events", json={"events": list(events)})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def _features(runtime: Api, profile: str = "ada") -> dict[str, Any]:
    found = runtime.get(f"/v1/profiles/{profile}")
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()["features"]
    return body


def _shopping(profile: str = "ada") -> list[dict[str, Any]]:
    """Three weeks of a shopper: purchases, a cart left yesterday, a category she prefers."""
    return [
        {"event_id": f"{profile}-1", "type": "purchase", "profile_id": profile, "value": "100",
         "currency": "USD", "at": _at(days=20), "properties": {"category": "electronics"}},
        {"event_id": f"{profile}-2", "type": "purchase", "profile_id": profile, "value": "25.50",
         "at": _at(days=2), "properties": {"category": "books"}},
        {"event_id": f"{profile}-3", "type": "purchase", "profile_id": profile, "value": "999",
         "currency": "EUR", "at": _at(days=2), "properties": {"category": "electronics"}},
        {"event_id": f"{profile}-4", "type": "view", "profile_id": profile, "session_id": "s1",
         "at": _at(days=1, minutes=10), "properties": {"category": "electronics"}},
        {"event_id": f"{profile}-5", "type": "add_to_cart", "profile_id": profile,
         "session_id": "s1", "at": _at(days=1), "properties": {"category": "electronics",
                                                               "quantity": 2}},
    ]  # fmt: skip


def test_events_over_http_build_the_features_once_per_event(runtime: Api) -> None:
    events = _shopping()
    assert _send(runtime, *events)["accepted"] == 5
    assert _send(runtime, *events[:3]) == {"accepted": 0, "duplicates": 3}  # sent again
    found = _features(runtime)
    assert (found["purchases_1d"], found["purchases_7d"], found["purchases_30d"]) == (0, 2, 3)
    # The EUR purchase is counted, not added to the USD revenue.
    assert found["revenue_30d"] == "125.5"
    assert found["revenue"] == "125.5"
    assert found["items_added_7d"] == 2
    assert (found["sessions_7d"], found["abandoned_carts_7d"]) == (1, 1)
    assert found["abandoned_last_session"] is True
    assert found["last_session_seconds"] == 600
    assert 1.99 < found["days_since_last_purchase"] < 2.01
    # electronics: 5 + 5 + 1 + 3 x 2 = 17 of 22 (books: a purchase, 5)
    assert found["category_affinity"] == {"books": 0.2273, "electronics": 0.7727}
    assert set(found["last_purchase_in"]) == {"books", "electronics"}


def test_the_brokers_consumer_builds_them_once_through_redeliveries(
    app_settings: Settings, runtime: Api
) -> None:
    body = json.dumps({"events": _shopping("bo")}).encode()

    async def deliver() -> list[ingest.Outcome]:
        outcomes = []
        async with ingest.open_ingestor(app_settings) as ingestor:
            for deliveries in (1, 2):  # the same message delivered again
                message = ingest.Message(
                    broker_id="7",
                    ids="redis:test:7",
                    source="redis:test",
                    tenant="ZZ",
                    body=body,
                    deliveries=deliveries,
                )
                outcomes += await ingestor.settle([message])
        return outcomes

    assert asyncio.run(deliver()) == [ingest.Outcome.STORED] * 2
    found = _features(runtime, "bo")
    assert (found["purchases_30d"], found["revenue_90d"], found["items_added_7d"]) == (
        3,
        "125.5",
        2,
    )


def test_decisions_read_the_features_and_history_questions(owner: Api, runtime: Api) -> None:
    setup = Setup(owner)
    rules = {
        "Frequent buyer": "profile.purchases_30d >= 3",
        "Electronics fan": "profile.category_affinity['electronics'] > 0.5 and "
        "bought_within('electronics', 30)",
        "Come back to your cart": "profile.abandoned_last_session and "
        "profile.abandoned_carts_7d >= 1",
        "Big spender": "profile.revenue_90d >= 1000",
    }
    for priority, (name, rule) in enumerate(rules.items(), start=95):
        setup.offer(name, priority, ["travel"], eligibility=rule)
    activity = setup.activity("Behaviour", setup.hero)
    _send(runtime, *_shopping())
    _send(runtime, {"type": "view", "profile_id": "cy"})  # a stored profile that did little
    decided = runtime.post(
        "/v1/decisions",
        json={
            "profile": {"id": "ada"},
            "activities": [activity["id"]],
            "dry_run": True,
            "explain": True,
            "count": 4,
        },
    )
    assert decided.status_code == 200, decided.text
    names = [i["name"] for i in decided.json()["propositions"][0]["items"]]
    assert names[:3] == ["Come back to your cart", "Electronics fan", "Frequent buyer"]
    assert "Big spender" not in names
    other = runtime.post(
        "/v1/decisions",
        json={"profile": {"id": "cy"}, "activities": [activity["id"]], "dry_run": True},
    )
    assert other.json()["propositions"][0]["items"][0]["name"] not in rules


def test_rebuild_features_gives_what_the_events_built(database_url: str, runtime: Api) -> None:
    _send(runtime, *_shopping())
    _send(runtime, *_shopping("bo")[:2])
    built = {p: _features(runtime, p) for p in ("ada", "bo")}
    engine = sa.create_engine(sync_url(database_url))
    with engine.begin() as conn:  # lose them
        conn.execute(sa.text("UPDATE profiles SET features = '{}'"))
    engine.dispose()
    assert _features(runtime)["purchases_30d"] == 0

    env = {"OFFERENGINE_DATABASE_URL": database_url}
    for _ in range(2):  # and again: the same
        result = CliRunner().invoke(
            cli, ["profiles", "rebuild-features", "--tenant", "zz"], env=env
        )
        assert result.exit_code == 0, result.output
        assert "ZZ: features of 2 profiles rebuilt from 7 events" in result.output
        again = {p: _features(runtime, p) for p in ("ada", "bo")}
        for profile, features in built.items():
            recency = features["days_since_last_purchase"]
            assert again[profile].pop("days_since_last_purchase") == pytest.approx(
                recency, abs=1e-3
            )
            assert again[profile] == {
                k: v for k, v in features.items() if k != "days_since_last_purchase"
            }


def test_a_profile_attribute_may_not_take_a_features_name(runtime: Api) -> None:
    refused = runtime.put("/v1/profiles/ada", json={"attributes": {"purchases_30d": 9}})
    assert refused.status_code == 422
    assert error_locs(refused.json()) == [["body", "attributes", "purchases_30d"]]
    assert runtime.get("/v1/profiles/ada").status_code == 404  # nothing made
