"""Records on Redis streams: appended before the answer, found young on any worker, stored by a
consumer group in bulk; a consumer that dies mid-batch loses nothing and stores nothing twice;
records the database refuses go to the dead letters while the others are stored. On SQLite and
PostgreSQL, against the machine's Redis (a key prefix of each test's own)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
import sqlalchemy as sa
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.decisioning.models import Decision
from offerengine.ids import new_search_key, new_time_uuid
from offerengine.recording import records
from offerengine.recording.consumer import Consumer
from offerengine.recording.models import DeadLetter
from offerengine.recording.store import RecordStore
from offerengine.recording.stream import GROUP, stream_names
from offerengine.settings import Settings
from offerengine.shopping.models import OfferStat, StoredSearch
from tests.conftest import PLATFORM_KEY, make_settings
from tests.helpers import Api, create_key, tenant_api

pytestmark = pytest.mark.redis


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    # No embedded consumer: each test runs the consumers it needs.
    return make_settings(
        database_url, tmp_path, redis_url=redis_url, records="stream", embedded_consumer=False
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


class World:
    """The app's context, and consumers over its streams, driven from the app's own loop."""

    def __init__(self, client: TestClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.context = client.app.state.context  # type: ignore[attr-defined]
        tenant_api(client, "ST", kind="marketplace", base_currency="TRY")
        found = client.get(
            "/v1/admin/tenants/ST", headers={"Authorization": f"Bearer {PLATFORM_KEY}"}
        )
        self.tenant_id = uuid.UUID(found.json()["id"])
        self.runtime = Api(client, create_key(client, "ST", "runtime"))
        self.consumers: list[Consumer] = []

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async def run() -> Any:
            return await fn(*args, **kwargs)

        return self.client.portal.call(run)  # type: ignore[union-attr]

    def consumer(self, name: str, *, claim_seconds: float = 30.0) -> Consumer:
        made = Consumer(
            self.context.redis,
            RecordStore(
                self.context.session_factory,
                engine=None,
                is_sqlite=self.context.is_sqlite,
                source=f"stream:{name}",
            ),
            prefix=self.settings.redis_prefix,
            shards=self.settings.records_shards,
            name=name,
            batch=50,
            claim_seconds=claim_seconds,
        )
        self.consumers.append(made)
        return made

    def count(self, query: Any) -> int:
        async def run() -> int:
            async with self.context.session_factory() as session:
                return int(await session.scalar(query) or 0)

        return int(self.client.portal.call(run))  # type: ignore[union-attr]

    def decisions(self) -> int:
        return self.count(
            sa.select(sa.func.count())
            .select_from(Decision)
            .where(Decision.tenant_id == self.tenant_id)
        )

    def drain(self, consumer: Consumer) -> None:
        while self.call(consumer.consume_once) > 0:
            pass

    def decision(self, profile_id: str = "p") -> records.Decision:
        return records.Decision(
            tenant_id=self.tenant_id,
            id=new_time_uuid(),
            profile_id=profile_id,
            made_at=datetime.now(UTC),
            propositions=[{"activity_id": "a", "offer_id": "o", "score": 1.0, "fallback": False}],
        )

    def search(self) -> records.Search:
        now = datetime.now(UTC)
        return records.Search(
            tenant_id=self.tenant_id,
            id=new_search_key(),
            search_id=uuid.uuid4().hex,
            segment="*",
            customer_id=None,
            currency="USD",
            experiments_json="[]",
            offers_json="{}",
            created_at=now,
            expires_at=now + timedelta(minutes=15),
            shown=["FLIGHT_ONLY", "COMFORT"],
        )

    def quote(self) -> records.Quote:
        now = datetime.now(UTC)
        quote_id = new_time_uuid()
        return records.Quote(
            tenant_id=self.tenant_id,
            id=quote_id,
            request_hash="0" * 64,
            created_at=now,
            valid_until=now + timedelta(minutes=30),
            day=now.date().isoformat(),
            customer_id="c1",
            seller_id=None,
            city="istanbul",
            country="TR",
            currency="TRY",
            item_total=10000,
            discount=0,
            tax=1800,
            delivery_fee=0,
            small_basket_fee=0,
            total=11800,
            commission=500,
            coupons=[],
            data=b'{"quote_id":"%s","total_amount":"118.00"}' % str(quote_id).encode(),
            lines=[(0, "electronics", "s1", "l1", 1, 10000, 10000, 1800, 300, 200, 0)],
        )


@pytest.fixture
def world(client: TestClient, settings: Settings) -> World:
    return World(client, settings)


def test_records_are_on_the_stream_before_the_answer_and_young_ones_are_found_anywhere(
    world: World, settings: Settings
) -> None:
    quote = world.quote()
    world.call(world.context.recorder.record, quote, world.decision())
    streams = stream_names(settings.redis_prefix, settings.records_shards)
    lengths = world.call(_lengths, world.context.redis, streams)
    assert sum(lengths) == 2  # appended: Redis acknowledged both before record() returned
    assert world.decisions() == 0  # no consumer yet: nothing stored

    # Not stored, yet found: from its young copy in Redis, as any worker would.
    found = world.runtime.get(f"/v1/quotes/{quote.id}")
    assert found.status_code == 200, found.text
    assert found.json()["data"]["total_amount"] == "118.00"
    # Accepting it before any consumer ran stores it first: nothing answered is lost.
    accepted = world.runtime.post(f"/v1/quotes/{quote.id}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["data"]["status"] == "ACCEPTED"

    consumer = world.consumer("c-1")
    world.drain(consumer)
    assert world.decisions() == 1
    again = world.runtime.get(f"/v1/quotes/{quote.id}").json()["data"]
    assert again["status"] == "ACCEPTED"  # the consumer's later write changed nothing
    world.call(world.context.recorder.flush)  # every record appended here is consumed


def test_a_redelivered_record_is_stored_once_and_counted_once(world: World) -> None:
    search, decision = world.search(), world.decision()
    world.call(world.context.recorder.record, search, decision)
    consumer = world.consumer("c-1")
    world.drain(consumer)
    # The same records again (a redelivery, a retried append): stored once, counted once.
    world.call(world.context.recorder.record, search, decision)
    world.drain(consumer)
    assert world.decisions() == 1
    assert (
        world.count(
            sa.select(sa.func.count())
            .select_from(StoredSearch)
            .where(StoredSearch.tenant_id == world.tenant_id)
        )
        == 1
    )
    shown = world.count(
        sa.select(sa.func.sum(OfferStat.shown)).where(OfferStat.tenant_id == world.tenant_id)
    )
    assert shown == 2  # FLIGHT_ONLY and COMFORT, once each


def test_a_consumer_that_dies_mid_batch_loses_nothing_and_stores_nothing_twice(
    world: World, settings: Settings
) -> None:
    streams = stream_names(settings.redis_prefix, settings.records_shards)
    first = [world.decision(f"before-{i}") for i in range(30)]
    world.call(world.context.recorder.record, *first)
    # A consumer takes the whole batch and dies before storing any of it...
    dying = world.consumer("dies-before-storing")
    world.call(dying._ensure_groups)
    world.call(
        world.context.redis.xreadgroup,
        GROUP,
        dying.name,
        dict.fromkeys(streams, ">"),
        count=1000,
    )
    # ...and another takes a batch, stores it, and dies before acknowledging it.
    second = [world.decision(f"after-{i}") for i in range(30)]
    world.call(world.context.recorder.record, *second)
    storing = world.consumer("dies-after-storing")
    taken = world.call(
        world.context.redis.xreadgroup,
        GROUP,
        storing.name,
        dict.fromkeys(streams, ">"),
        count=1000,
    )
    from offerengine.recording.stream import decode

    batch = [decode(fields[b"r"]) for _, items in taken for _, fields in items]
    assert len(batch) == len(second)
    world.call(storing._store.write, batch)
    assert world.decisions() == len(second)

    # A live consumer claims what both left once it has been idle long enough.
    survivor = world.consumer("survivor", claim_seconds=0.2)
    world.call(asyncio.sleep, 0.3)
    assert world.call(survivor.claim) == len(first) + len(second)
    assert world.decisions() == len(first) + len(second)  # all stored, none twice
    pending = world.call(_pending, world.context.redis, streams)
    assert pending == 0
    world.call(world.context.recorder.flush)


def test_records_the_database_refuses_go_to_the_dead_letters_and_the_rest_are_stored(
    world: World, database_url: str, settings: Settings
) -> None:
    bad_ids = ["lone \ud800 surrogate"]
    if database_url.startswith("postgresql"):
        bad_ids.append("nul \x00 inside")
    good = [world.decision(f"good-{i}") for i in range(20)]
    bad = [world.decision(profile_id) for profile_id in bad_ids]
    world.call(world.context.recorder.record, *good[:10], *bad, *good[10:])
    consumer = world.consumer("c-1")
    world.drain(consumer)
    assert world.decisions() == len(good)
    letters = world.count(
        sa.select(sa.func.count())
        .select_from(DeadLetter)
        .where(DeadLetter.tenant_id == world.tenant_id, DeadLetter.kind == "decision")
    )
    assert letters == len(bad)
    dead = world.call(world.context.redis.xlen, f"{settings.redis_prefix}:records:dead")
    assert dead == len(bad)
    later = [world.decision(f"later-{i}") for i in range(5)]
    world.call(world.context.recorder.record, *later)
    world.drain(consumer)
    assert world.decisions() == len(good) + len(later)


def test_the_embedded_consumer_stores_what_the_app_answers(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, redis_url=redis_url, records="stream")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        world = World(client, settings)
        world.call(world.context.recorder.record, *(world.decision(f"e-{i}") for i in range(12)))
        world.call(world.context.recorder.flush)  # waits for the embedded consumer
        assert world.decisions() == 12


async def _lengths(client: redis.asyncio.Redis, streams: list[str]) -> list[int]:
    return [int(await client.xlen(s)) for s in streams]


async def _pending(client: redis.asyncio.Redis, streams: list[str]) -> int:
    total = 0
    for stream in streams:
        total += int((await client.xpending(stream, GROUP))["pending"])
    return total


def test_with_redis_away_nothing_is_answered_unrecorded(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        sqlite_url, tmp_path, redis_url="redis://127.0.0.1:9/0", records="stream"
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        tenant_api(client, "ST", kind="marketplace", base_currency="TRY")
        runtime = Api(client, create_key(client, "ST", "runtime"))
        context = client.app.state.context  # type: ignore[attr-defined]

        async def record() -> None:
            await context.recorder.record(
                records.Exposure(
                    tenant_id=uuid.uuid4(),
                    experiment_id=uuid.uuid4(),
                    unit_id="u",
                    variant="a",
                    bucket=None,
                    exposed_at=datetime.now(UTC),
                )
            )

        from offerengine.errors import Unavailable

        with pytest.raises(Unavailable):
            client.portal.call(record)  # type: ignore[union-attr]
        # A young quote cannot be looked for: a 503 to retry, never a 500 nor a false 404.
        found = runtime.get(f"/v1/quotes/{new_time_uuid()}")
        assert found.status_code == 503, found.text
        assert found.headers["Retry-After"] == "1"
        assert found.headers["content-type"].startswith("application/problem+json")
