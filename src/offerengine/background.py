"""Stopping a worker's background loops between their rounds, never inside one.

A loop that uses the database every few seconds (bandit training, the order sweeper, revenue
forecasts) is told to stop, and the round under way finishes: its transaction commits or rolls
back and its connection goes back to the pool, on the event loop that opened it, before the
engine is disposed. Cancelled inside a database call instead, the round leaves SQLAlchemy to
invalidate that connection and close it from the cancelled task; should that close be cut short
too, the fallback (aiosqlite's ``stop()``) hands the connection's thread a close whose completion
it posts to the event loop later, and a worker (or a test's app) that closed its loop meanwhile
gets "RuntimeError: Event loop is closed" from that thread. A round that does not end within the
grace period (a database that stopped answering) is cancelled after all, and awaited.
"""

from __future__ import annotations

import asyncio
import contextlib

GRACE_SECONDS = 30.0  # how long a stopping loop's round may take to end before it is cancelled


async def pause(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``, or less if told to stop; whether the loop was told to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    return stopping.is_set()


async def finish(
    task: asyncio.Task[None], stopping: asyncio.Event, grace_seconds: float = GRACE_SECONDS
) -> None:
    """Tell the loop ``task`` runs to stop and wait for the round under way to end; past
    ``grace_seconds``, cancel it and wait for that."""
    stopping.set()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=grace_seconds)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    except asyncio.CancelledError:  # the stopper itself is cancelled: take the loop with it
        task.cancel()
        raise
