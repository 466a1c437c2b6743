"""External events from NATS JetStream and a Redis stream, through `offerengine consume`'s
consumers, on SQLite and PostgreSQL: stored and counted once whatever the redeliveries, bad
messages set aside, and `offerengine replay` rebuilding what was counted as the events came."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from nats.aio.msg import Msg
from redis.asyncio import Redis
from typer.testing import CliRunner

from offerengine.app import create_app
from offerengine.cli import app as cli
from offerengine.db.engine import sync_url
from offerengine.recording import ingest
from offerengine.settings import Settings
from tests.conftest import make_settings
from tests.helpers import Api, create_key, tenant_api

BASE = "/v1/admin/tenants/OE/decisioning"
PROFILE_FIELDS = ("views", "clicks", "accepts", "purchases", "spend", "last_seen_at", "categories")


@dataclass
class Tenant:
    runtime: Api
    offer_id: str


def _tenant(client: TestClient) -> Tenant:
    """Tenant OE with an offer whose impressions are capped per profile."""
    owner = tenant_api(client, "OE")
    placement = owner.post(
        f"{BASE}/placements", json={"name": "Hero", "channel": "web", "content_type": "json"}
    ).json()
    offer = owner.post(
        f"{BASE}/offers",
        json={
            "name": "Bags",
            "status": "approved",
            "priority": 10,
            "representations": [{"placement_id": placement["id"], "content": {"h": "Bags"}}],
            "capping": [{"scope": "profile", "limit": 100, "event": "impression"}],
            "attributes": {"category": "bags"},
        },
    )
    assert offer.status_code == 201, offer.text
    return Tenant(Api(client, create_key(client, "OE", "runtime")), offer.json()["id"])


@pytest.fixture
def app_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def tenant(client: TestClient) -> Tenant:
    return _tenant(client)


def _events(offer_id: str) -> list[bytes]:
    """Messages of tenant OE: one event with its own id, and a batch without ids."""
    return [
        json.dumps(
            {"event_id": "a1", "type": "impression", "profile_id": "ada", "offer_id": offer_id}
        ).encode(),
        json.dumps(
            {
                "events": [
                    {"type": "click", "profile_id": "ada", "offer_id": offer_id},
                    {
                        "type": "purchase",
                        "profile_id": "ada",
                        "value": "10.25",
                        "at": "2026-01-02T03:04:05Z",
                        "properties": {"category": "seats"},
                    },
                ]
            }
        ).encode(),
    ]


def _counts(url: str) -> dict[str, Any]:
    """What the events added up to: events stored, learning counts, cap counts."""
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return {
                "events": conn.scalar(sa.text("SELECT count(*) FROM events")),
                "learnt": [
                    tuple(r)
                    for r in conn.execute(
                        sa.text("SELECT impressions, clicks, accepts FROM decision_stats")
                    )
                ],
                "capped": [
                    r[0] for r in conn.execute(sa.text("SELECT count FROM decision_counters"))
                ],
                "dead": [
                    tuple(r)
                    for r in conn.execute(
                        sa.text(
                            "SELECT kind, source, error, payload FROM dead_letters ORDER BY record_id"
                        )
                    )
                ],
            }
    finally:
        engine.dispose()


def _profile(runtime: Api, profile_id: str = "ada") -> dict[str, Any]:
    found = runtime.get(f"/v1/profiles/{profile_id}")
    assert found.status_code == 200, found.text
    return {k: v for k, v in found.json().items() if k in PROFILE_FIELDS}


async def _until(done: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await done():
        assert time.monotonic() < deadline, "the consumer did not get there in time"
        await asyncio.sleep(0.1)


async def _running(consumer: Any, until: Callable[[], Awaitable[bool]]) -> None:
    """Run ``consumer`` until ``until`` holds, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await _until(until)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


# --- NATS ---------------------------------------------------------------------------------------


def _nats_settings(database_url: str, tmp_path: Path, nats_url: str) -> Settings:
    name = uuid.uuid4().hex[:10]
    return make_settings(
        database_url,
        tmp_path,
        nats_url=nats_url,
        nats_stream=f"T_{name}",
        nats_subject=f"t{name}.events.>",
        nats_durable=f"d{name}",
        events_redeliver_seconds=1.0,
    )


class _Forgetful(ingest.NatsConsumer):
    """Stores what it takes but dies before acknowledging any of it."""

    async def acknowledge(self, message: Msg, outcome: ingest.Outcome) -> None:
        pass


def _nats_consumer(settings: Settings, ingestor: ingest.EventIngestor, cls: Any) -> Any:
    assert settings.nats_url is not None
    return cls(
        ingestor,
        url=settings.nats_url,
        stream=settings.nats_stream,
        subject=settings.nats_subject,
        durable=settings.nats_durable,
        ack_wait=settings.events_redeliver_seconds,
    )


async def _nats_session(settings: Settings, scenario: Callable[[Any], Awaitable[None]]) -> None:
    client = await nats.connect(settings.nats_url)
    js = client.jetstream()
    try:
        await scenario(js)
    finally:
        try:
            await js.delete_stream(settings.nats_stream)
        finally:
            await client.close()


async def _settled(js: Any, settings: Settings) -> bool:
    """Every message of the stream delivered and acknowledged (or terminated)."""
    try:
        info = await js.consumer_info(settings.nats_stream, settings.nats_durable)
    except nats.js.errors.NotFoundError:  # the consumer is not there yet
        return False
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


@pytest.mark.nats
def test_events_published_to_jetstream_count_once_through_redeliveries(
    database_url: str, tmp_path: Path, nats_url: str, tenant: Tenant, client: TestClient
) -> None:
    settings = _nats_settings(database_url, tmp_path, nats_url)
    subject = settings.nats_subject.replace(">", "OE")

    async def scenario(js: Any) -> None:
        async with ingest.open_ingestor(settings) as ingestor:
            # A consumer creates the stream, stores what it takes and dies before acknowledging.
            forgetful = _nats_consumer(settings, ingestor, _Forgetful)
            stop = asyncio.Event()
            task = asyncio.create_task(forgetful.run(stop))

            async def stream_exists() -> bool:
                try:
                    await js.stream_info(settings.nats_stream)
                except nats.js.errors.NotFoundError:
                    return False
                return True

            await _until(stream_exists)
            first, batch = _events(tenant.offer_id)
            for body in (first, first, batch):  # the first one published twice
                await js.publish(subject, body)

            async def stored() -> bool:
                return bool(_counts(database_url)["events"] == 3)

            await _until(stored)
            stop.set()
            await asyncio.wait_for(task, 10)
            # Nothing was acknowledged: JetStream delivers all of it again to the next consumer.
            info = await js.consumer_info(settings.nats_stream, settings.nats_durable)
            assert info.num_ack_pending == 3
            again = _nats_consumer(settings, ingestor, ingest.NatsConsumer)
            await _running(again, lambda: _settled(js, settings))

    asyncio.run(_nats_session(settings, scenario))
    found = _counts(database_url)
    assert found["events"] == 3
    assert found["learnt"] == [(1, 1, 0)]  # one impression, one click of the offer
    assert found["capped"] == [1]  # the one impression against its cap
    assert found["dead"] == []
    profile = _profile(tenant.runtime)
    assert (profile["views"], profile["clicks"], profile["purchases"]) == (1, 1, 1)
    assert profile["spend"] == pytest.approx(10.25)
    assert profile["categories"]["bags"]["views"] == 1
    assert profile["categories"]["seats"]["purchases"] == 1


@pytest.mark.nats
def test_bad_jetstream_messages_go_to_dead_letters_and_good_ones_are_stored(
    database_url: str, tmp_path: Path, nats_url: str, tenant: Tenant
) -> None:
    settings = _nats_settings(database_url, tmp_path, nats_url)
    subject = settings.nats_subject.replace(">", "OE")
    first, batch = _events(tenant.offer_id)
    bad = [
        (subject, b"{not json"),
        (subject, json.dumps({"type": "click"}).encode()),  # names no unit
        (settings.nats_subject.replace(">", "NOPE"), first),  # no such tenant
        (
            subject,
            json.dumps(
                {"type": "click", "profile_id": "ada", "occurred_at": "2999-01-01T00:00:00Z"}
            ).encode(),
        ),
        (subject, json.dumps({"type": "view", "profile_id": "bad\x00id"}).encode()),
    ]

    async def scenario(js: Any) -> None:
        await js.add_stream(name=settings.nats_stream, subjects=[settings.nats_subject])
        for where, body in [*bad, (subject, first), (subject, batch)]:
            await js.publish(where, body)
        async with ingest.open_ingestor(settings) as ingestor:
            consumer = _nats_consumer(settings, ingestor, ingest.NatsConsumer)
            await _running(consumer, lambda: _settled(js, settings))

    asyncio.run(_nats_session(settings, scenario))
    found = _counts(database_url)
    assert found["events"] == 3  # every good event, though bad ones shared their batch
    dead = found["dead"]
    assert len(dead) == len(bad)
    assert {kind for kind, *_ in dead} == {"event"}
    errors = " | ".join(error for _, _, error, _ in dead)
    for expected in ("not valid JSON", "name the unit", "No tenant 'NOPE'", "is in the future"):
        assert expected in errors
    assert "NUL" in errors
    sources = {source for _, source, _, _ in dead}
    assert sources == {f"nats:{subject}", f"nats:{settings.nats_subject.replace('>', 'NOPE')}"}
    payloads = [json.loads(payload) for *_, payload in dead]
    assert all(payload.isascii() for *_, payload in dead)
    assert {"tenant": "OE", "event": "{not json"} in payloads
    assert {"tenant": "NOPE", "event": json.loads(first)} in payloads


# --- Redis stream -------------------------------------------------------------------------------


class _ForgetfulStream(ingest.RedisStreamConsumer):
    async def acknowledge(self, entry_ids: list[bytes]) -> None:
        pass


@pytest.mark.redis
def test_events_added_to_a_redis_stream_count_once_through_redeliveries(
    database_url: str, tmp_path: Path, redis_url: str, tenant: Tenant
) -> None:
    settings = make_settings(
        database_url, tmp_path, redis_url=redis_url, events_redeliver_seconds=1.0
    )
    stream = ingest.events_stream(settings)
    first, batch = _events(tenant.offer_id)

    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        try:
            async with ingest.open_ingestor(settings) as ingestor:

                def consumer(cls: Any, name: str) -> Any:
                    return cls(
                        ingestor,
                        redis,
                        stream=stream,
                        group=settings.events_group,
                        consumer=name,
                        claim_seconds=settings.events_redeliver_seconds,
                    )

                for body in (first, first, batch, b"[1, 2"):
                    await redis.xadd(stream, {"tenant": "OE", "event": body})

                async def stored() -> bool:
                    return bool(_counts(database_url)["events"] == 3)

                await _running(consumer(_ForgetfulStream, "dies"), stored)
                pending: Any = await redis.xpending(stream, settings.events_group)
                assert pending["pending"] == 4  # nothing acknowledged

                async def settled() -> bool:
                    found: Any = await redis.xpending(stream, settings.events_group)
                    return bool(found["pending"] == 0)

                # Another consumer claims the dead one's entries once they are idle long enough.
                await _running(consumer(ingest.RedisStreamConsumer, "lives"), settled)
        finally:
            await redis.delete(stream)
            await redis.aclose()

    asyncio.run(scenario())
    found = _counts(database_url)
    assert found["events"] == 3
    assert found["learnt"] == [(1, 1, 0)]
    dead = found["dead"]
    assert [(kind, source) for kind, source, *_ in dead] == [("event", f"redis:{stream}")]
    assert "not valid JSON" in dead[0][2]
    profile = _profile(tenant.runtime)
    assert (profile["views"], profile["clicks"], profile["purchases"]) == (1, 1, 1)


# --- replay -------------------------------------------------------------------------------------


def test_replay_rebuilds_the_aggregates_the_events_built(
    database_url: str, tenant: Tenant, app_settings: Settings
) -> None:
    events = [
        {"type": "impression", "profile_id": "ada", "offer_id": tenant.offer_id},
        {"type": "click", "profile_id": "ada", "offer_id": tenant.offer_id},
        {"type": "purchase", "profile_id": "ada", "value": "10.25", "at": "2026-01-02T03:04:05Z"},
        {
            "type": "purchase",
            "profile_id": "ada",
            "value": "0.10",
            "at": "2026-01-01T09:00:00+02:00",
            "properties": {"category": "seats"},
        },
        {"type": "view", "profile_id": "bob", "properties": {"category": "seats"}},
        {"type": "signup", "profile_id": "bob"},
    ]
    for i in range(0, len(events), 2):  # in three requests
        response = tenant.runtime.post("/v1/events", json={"events": events[i : i + 2]})
        assert response.status_code == 202, response.text
    built = {p: _profile(tenant.runtime, p) for p in ("ada", "bob")}
    engine = sa.create_engine(sync_url(database_url))
    with engine.begin() as conn:  # lose them
        conn.execute(sa.text("UPDATE profiles SET aggregates = '{}', last_seen_at = NULL"))
    engine.dispose()
    assert _profile(tenant.runtime, "ada")["views"] == 0

    env = {"OFFERENGINE_DATABASE_URL": database_url}
    for _ in range(2):  # and again: the same
        result = CliRunner().invoke(cli, ["replay", "--tenant", "oe"], env=env)
        assert result.exit_code == 0, result.output
        assert "OE: 2 profiles rebuilt from 5 events" in result.output
        assert {p: _profile(tenant.runtime, p) for p in ("ada", "bob")} == built
