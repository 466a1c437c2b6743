"""A worker's background loops stop between rounds: a round under way when the worker shuts
down finishes (its transaction ends and its connection goes back to the pool on its own loop)
instead of being cancelled inside a database call, and only a round that outlasts the grace
period is cancelled, then awaited (offerengine.background)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker

from offerengine import background
from offerengine.db.engine import create_engine
from offerengine.orders.sweeper import OrderSweeper


class CountingSweeper(OrderSweeper):
    """The worker's order sweeper, counting the sweeps that ran to their end."""

    done = 0

    async def sweep_once(self) -> int:
        expired = await super().sweep_once()
        self.done += 1
        return expired


def _hold_write_lock(path: Path, held: threading.Event, seconds: float) -> threading.Thread:
    """Another process's writer: SQLite's write lock taken for ``seconds``."""

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    return thread


async def test_a_sweep_under_way_at_shutdown_finishes_and_returns_its_connection(
    sqlite_url: str,
) -> None:
    engine = create_engine(sqlite_url, pool_size=2)
    sweeper = CountingSweeper(
        async_sessionmaker(engine, expire_on_commit=False),
        seconds=0.01,
        is_sqlite=True,
        on_release=lambda: None,
    )
    held = threading.Event()
    holder = _hold_write_lock(Path(str(make_url(sqlite_url).database)), held, 0.8)
    try:
        await asyncio.to_thread(held.wait)
        sweeper.start()
        task = sweeper._task
        assert task is not None
        await asyncio.sleep(0.3)  # the first sweep waits for the write lock, in BEGIN IMMEDIATE
        assert sweeper.done == 0
        await sweeper.stop()
        assert sweeper.done == 1  # the sweep under way ran to its end, and no other began
        assert task.done()
        assert not task.cancelled()
        assert engine.pool.checkedout() == 0  # its connection is back in the pool
    finally:
        await asyncio.to_thread(holder.join)
        await engine.dispose()


async def test_a_round_that_outlasts_the_grace_period_is_cancelled_and_awaited() -> None:
    stopping = asyncio.Event()
    began = asyncio.Event()
    rounds: list[str] = []

    async def loop() -> None:
        while not await background.pause(stopping, 0.01):
            rounds.append("began")
            began.set()
            await asyncio.sleep(3600)  # a database that stopped answering
            rounds.append("ended")

    task = asyncio.create_task(loop())
    await began.wait()
    await background.finish(task, stopping, grace_seconds=0.1)
    assert task.cancelled()
    assert rounds == ["began"]


async def test_a_loop_told_to_stop_between_rounds_ends_at_once() -> None:
    stopping = asyncio.Event()
    rounds: list[int] = []

    async def loop() -> None:
        while not await background.pause(stopping, 3600):
            rounds.append(1)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.05)
    # Well within the hour's pause: finish does not wait for the pause to run out.
    await asyncio.wait_for(background.finish(task, stopping), timeout=5)
    assert task.done()
    assert not task.cancelled()
    assert rounds == []


@pytest.mark.parametrize("told", [True, False])
async def test_pause_says_whether_the_loop_was_told_to_stop(told: bool) -> None:
    stopping = asyncio.Event()
    if told:
        stopping.set()
    assert await background.pause(stopping, 0.01) is told
