"""Concurrent training rounds (several workers' trainers at once) learn every decision exactly
once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from offerengine.app import create_app
from offerengine.db.engine import create_engine
from offerengine.learning import offline, trainer
from offerengine.learning.models import LearningModel
from tests.conftest import make_settings
from tests.e2e.test_bandits import CONTEXTUAL, WAIT, _serve
from tests.e2e.test_decisioning import Setup
from tests.helpers import Api, create_key, tenant_api

pytestmark = pytest.mark.slow
ROUNDS = 6


async def _race(database_url: str) -> tuple[list[int], list[tuple[int, int, bool]]]:
    engine = create_engine(database_url, pool_size=ROUNDS)
    try:
        factory = async_sessionmaker(engine, expire_on_commit=False)
        async with factory() as session:
            built = await offline.snapshot(session, "ZZ")
        sqlite = engine.dialect.name == "sqlite"

        async def one_round() -> int:
            rounds = await trainer.train_snapshot(factory, built, is_sqlite=sqlite)
            return sum(r.learnt for r in rounds)

        learnt = await asyncio.gather(*(one_round() for _ in range(ROUNDS)))
        async with factory() as session:
            rows = (
                await session.execute(
                    sa.select(LearningModel.version, LearningModel.decisions, LearningModel.active)
                )
            ).all()
        return list(learnt), [tuple(r) for r in rows]
    finally:
        await engine.dispose()


def test_rounds_at_once_learn_each_decision_once(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url, tmp_path, learning_train_seconds=0, learning_refresh_seconds=0.001
    )
    with TestClient(create_app(settings)) as client:
        owner = tenant_api(client, "ZZ")
        setup = Setup(owner)
        runtime = Api(client, create_key(client, "ZZ", "runtime"))
        activity = setup.activity(
            "Bandit", setup.hero, ranking={"method": "model", "contextual": CONTEXTUAL}
        )
        # The first round starts version 1 (racing rounds would collide on its number); the
        # race below is then over its learnt state and cursor.
        assert owner.post("/v1/admin/tenants/ZZ/models/train").json()["rounds"][0]["version"] == 1
        _serve(runtime, activity, 30)
        time.sleep(WAIT)
        learnt, rows = asyncio.run(_race(database_url))
    # However the rounds interleaved, the 30 decisions were learnt once, by one version.
    assert sum(learnt) == 30, learnt
    assert rows == [(1, 30, True)]
