"""The embedded recorder keeps recording whatever one record holds: a batch the database refuses
is split until the refused records stand alone, which go to the dead letters with the error while
every other record is stored; dead letters show in /metrics, /readyz and the admin API, and are
re-driven once what refused them is fixed. Graceful shutdown writes what is pending. On SQLite and
PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.decisioning.models import Decision
from offerengine.experiments.models import Experiment, Exposure
from offerengine.ids import new_time_uuid
from offerengine.recording import records
from offerengine.settings import Settings
from tests.conftest import PLATFORM_KEY, make_settings
from tests.helpers import Api, tenant_api


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, metrics_public=True)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def owner(client: TestClient) -> Api:
    return tenant_api(client, "RC")


def _tenant_id(client: TestClient) -> uuid.UUID:
    found = client.get("/v1/admin/tenants/RC", headers={"Authorization": f"Bearer {PLATFORM_KEY}"})
    return uuid.UUID(found.json()["id"])


def _decision(tenant_id: uuid.UUID, profile_id: str) -> records.Decision:
    return records.Decision(
        tenant_id=tenant_id,
        id=new_time_uuid(),
        profile_id=profile_id,
        made_at=datetime.now(UTC),
        propositions=[{"activity_id": "a", "offer_id": "o", "score": 1.0, "fallback": False}],
    )


def _call(client: TestClient, fn: Any, *args: Any) -> Any:
    return client.portal.call(fn, *args)  # type: ignore[union-attr]


def _count(client: TestClient, query: Any) -> int:
    context = client.app.state.context  # type: ignore[attr-defined]

    async def run() -> int:
        async with context.session_factory() as session:
            return int(await session.scalar(query) or 0)

    return int(_call(client, run))


def _unstorable(database_url: str) -> list[str]:
    """Profile ids this database cannot store: a lone surrogate anywhere; on PostgreSQL also a
    NUL and a text longer than the column."""
    found = ["lone \ud800 surrogate"]
    if database_url.startswith("postgresql"):
        found += ["nul \x00 inside", "x" * 300]
    return found


def test_one_refused_record_never_stops_the_others(
    client: TestClient, owner: Api, database_url: str
) -> None:
    context = client.app.state.context  # type: ignore[attr-defined]
    recorder = context.recorder
    tenant_id = _tenant_id(client)
    bad_ids = _unstorable(database_url)
    good = [_decision(tenant_id, f"profile-{i}") for i in range(40)]
    bad = [_decision(tenant_id, profile_id) for profile_id in bad_ids]
    batch = good[:15] + bad + good[15:]
    _call(client, recorder.record, *batch)
    _call(client, recorder.flush)

    stored = _count(
        client,
        sa.select(sa.func.count()).select_from(Decision).where(Decision.tenant_id == tenant_id),
    )
    assert stored == len(good)
    assert all(
        _call(client, recorder.young, d.key) is None for d in batch
    )  # nothing left to retry forever

    letters = owner.get("/v1/admin/tenants/RC/dead-letters").json()["items"]
    assert sorted(letter["record_id"] for letter in letters) == sorted(str(d.id) for d in bad)
    by_id = {letter["record_id"]: letter for letter in letters}
    for record in bad:
        letter = by_id[str(record.id)]
        assert letter["kind"] == "decision"
        assert letter["source"] == "writer"
        assert letter["redriven_at"] is None
        assert letter["error"]  # what the database said...
        assert "INSERT" not in letter["error"]  # ...without the statement and its values
        assert letter["record"]["id"] == str(record.id)

    # Recording goes on: later records are all stored.
    later = [_decision(tenant_id, f"later-{i}") for i in range(5)]
    _call(client, recorder.record, *later)
    _call(client, recorder.flush)
    stored = _count(
        client,
        sa.select(sa.func.count()).select_from(Decision).where(Decision.tenant_id == tenant_id),
    )
    assert stored == len(good) + len(later)

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["records"].startswith(f"warning: {len(bad)} record(s)")
    metrics = client.get("/metrics").text
    assert (
        f'offerengine_records_dead_lettered_total{{kind="decision"}} {float(len(bad))}' in metrics
    )
    assert 'offerengine_records_stored_total{kind="decision"} 45.0' in metrics

    # Re-driven as they are, they are refused again: the letters stay, with the new error.
    redriven = owner.post("/v1/admin/tenants/RC/dead-letters/redrive", json={}).json()
    assert [r["written"] for r in redriven["results"]] == [False] * len(bad)
    waiting = owner.get("/v1/admin/tenants/RC/dead-letters?redriven=false").json()["items"]
    assert len(waiting) == len(bad)


def test_a_dead_letter_is_redriven_once_what_refused_it_is_fixed(
    client: TestClient, owner: Api
) -> None:
    context = client.app.state.context  # type: ignore[attr-defined]
    recorder = context.recorder
    tenant_id = _tenant_id(client)
    experiment_id = uuid.uuid4()  # not made yet: the exposure's experiment is missing
    exposure = records.Exposure(
        tenant_id=tenant_id,
        experiment_id=experiment_id,
        unit_id="unit-1",
        variant="b",
        bucket=0.5,
        exposed_at=datetime.now(UTC),
    )
    decision = _decision(tenant_id, "someone")
    _call(client, recorder.record, exposure, decision)
    _call(client, recorder.flush)
    letters = owner.get("/v1/admin/tenants/RC/dead-letters").json()["items"]
    assert [(x["kind"], x["record_id"]) for x in letters] == [
        ("exposure", f"{experiment_id}:unit-1")
    ]

    async def make_experiment() -> None:  # the fix: the experiment is there (restored)
        async with context.session_factory() as session, session.begin():
            session.add(
                Experiment(
                    id=experiment_id,
                    tenant_id=tenant_id,
                    key="restored",
                    name="Restored",
                    status="running",
                    unit="user_id",
                    variants=[],
                    primary_metric={"event": "purchase"},
                )
            )

    _call(client, make_experiment)
    redriven = owner.post(
        "/v1/admin/tenants/RC/dead-letters/redrive", json={"ids": [letters[0]["id"]]}
    )
    assert redriven.status_code == 200, redriven.text
    assert redriven.json()["results"] == [{"id": letters[0]["id"], "written": True, "error": None}]
    assert (
        _count(
            client,
            sa.select(sa.func.count())
            .select_from(Exposure)
            .where(Exposure.experiment_id == experiment_id, Exposure.unit_id == "unit-1"),
        )
        == 1
    )
    assert owner.get("/v1/admin/tenants/RC/dead-letters?redriven=false").json()["items"] == []
    assert client.get("/readyz").json()["checks"]["records"] == "ok"
    unknown = owner.post(
        "/v1/admin/tenants/RC/dead-letters/redrive", json={"ids": [str(uuid.uuid4())]}
    )
    assert unknown.status_code == 404


def test_graceful_shutdown_writes_what_is_pending(settings: Settings) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        tenant_api(client, "RC")
        tenant_id = _tenant_id(client)
        recorder = client.app.state.context.recorder  # type: ignore[attr-defined]
        recorder._flush_seconds = 3600  # no flush of its own: only the shutdown writes
        pending = [_decision(tenant_id, f"p-{i}") for i in range(10)]
        _call(client, recorder.record, *pending)
    engine = sa.create_engine(_sync_url(settings.database_url))
    try:
        with engine.connect() as connection:
            stored = connection.scalar(
                sa.select(sa.func.count())
                .select_from(Decision)
                .where(Decision.tenant_id == tenant_id)
            )
    finally:
        engine.dispose()
    assert stored == len(pending)


def _sync_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def test_records_survive_their_json_round_trip_whatever_their_text() -> None:
    tenant_id = uuid.uuid4()
    record = _decision(tenant_id, "nul \x00 and lone \udc00 and emoji \U0001f600")
    text = records.to_json(record)
    assert text.isascii()
    assert records.from_json(text) == record
