"""A schedule's rounds (offerengine.background): each unit of a round is a transaction of its own
under the round's lock, which commits at its end and rolls back if it raises, and which another
worker's round skips on PostgreSQL; every round is logged with its count, and a failed one is
logged and the next one runs."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from offerengine import background
from offerengine.db.engine import create_engine
from offerengine.tenants.models import Tenant

KEY = 0x5445_5354  # "TEST": no worker's lock


def _tenant(code: str) -> Tenant:
    return Tenant(
        id=uuid.uuid4(),
        code=code,
        name=code,
        kind="marketplace",
        base_currency="EUR",
        timezone="UTC",
    )


async def _failing_unit(factory: async_sessionmaker[AsyncSession], *, is_sqlite: bool) -> None:
    """A unit that writes, then fails."""
    async with background.exclusive(factory, KEY, is_sqlite=is_sqlite) as session:
        assert session is not None
        session.add(_tenant("LOST"))
        await session.flush()
        raise RuntimeError("the unit failed")


async def test_a_units_transaction_commits_at_its_end_and_rolls_back_if_it_raises(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    is_sqlite = engine.dialect.name == "sqlite"
    try:
        async with background.exclusive(factory, KEY, is_sqlite=is_sqlite) as session:
            assert session is not None
            session.add(_tenant("KEPT"))
        with pytest.raises(RuntimeError, match="the unit failed"):
            await _failing_unit(factory, is_sqlite=is_sqlite)
        async with factory() as session:
            codes = await session.scalars(
                sa.select(Tenant.code).where(Tenant.code.in_(["KEPT", "LOST"]))
            )
            assert codes.all() == ["KEPT"]
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_another_workers_unit_under_the_same_lock_is_skipped_on_postgresql(
    pg_schema_url: str,
) -> None:
    engine = create_engine(pg_schema_url)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with background.exclusive(factory, KEY, is_sqlite=False) as held:
            assert held is not None
            async with background.exclusive(factory, KEY, is_sqlite=False) as other:
                assert other is None  # another worker's round: it skips
            async with background.exclusive(factory, KEY + 1, is_sqlite=False) as unrelated:
                assert unrelated is not None  # another schedule's lock is its own
        async with background.exclusive(factory, KEY, is_sqlite=False) as after:
            assert after is not None  # the lock ends with the transaction that held it
    finally:
        await engine.dispose()


class Logged:
    """A logger that keeps what it is told (the app's logging may filter out info lines)."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, "level": "info", **fields})

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, "level": "warning", **fields})


class FlakySchedule(background.Schedule):
    """A schedule whose first round fails (a database briefly away) and whose next ones count
    the rounds run so far."""

    task_name = "flaky-rounds"
    log = Logged()
    event = "flaky_round"
    counts = "rounds"
    rounds = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.third_round = asyncio.Event()

    async def run_once(self) -> int:
        self.rounds += 1
        if self.rounds == 3:
            self.third_round.set()
        if self.rounds == 1:
            raise RuntimeError("the database is away")
        return self.rounds


async def test_a_schedule_logs_each_round_and_runs_the_next_after_one_fails(
    sqlite_url: str,
) -> None:
    engine = create_engine(sqlite_url)
    schedule = FlakySchedule(async_sessionmaker(engine), seconds=0.01, is_sqlite=True)
    FlakySchedule.log.lines.clear()
    try:
        schedule.start()
        await asyncio.wait_for(schedule.third_round.wait(), timeout=5)
        await schedule.stop()
        assert FlakySchedule.log.lines[:3] == [
            {"event": "flaky_round_failed", "level": "warning", "error": "the database is away"},
            {"event": "flaky_round", "level": "info", "rounds": 2},
            {"event": "flaky_round", "level": "info", "rounds": 3},
        ]
        rounds = schedule.rounds
        await asyncio.sleep(0.05)
        assert schedule.rounds == rounds  # stopped: no round after
    finally:
        await engine.dispose()


async def test_a_schedule_every_zero_seconds_is_off(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    schedule = FlakySchedule(async_sessionmaker(engine), seconds=0, is_sqlite=True)
    try:
        schedule.start()
        await asyncio.sleep(0.05)
        assert schedule.rounds == 0
        await schedule.stop()
    finally:
        await engine.dispose()
