"""Readiness: whether this worker's dependencies answer. The database must answer and be at the
migrations' head (its refused records are reported as a warning, not a failure); Redis, when
configured, must answer. Each check gives up after :data:`CHECK_TIMEOUT_SECONDS`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import sqlalchemy as sa

from offerengine.context import AppContext
from offerengine.db import migrate
from offerengine.recording import service as records

CHECK_TIMEOUT_SECONDS = 2.0


@dataclass(slots=True)
class Checked:
    """Each dependency's state, by name (``"ok"`` or what is wrong), and whether all are ready."""

    ready: bool = True
    checks: dict[str, str] = field(default_factory=dict)


async def readiness(ctx: AppContext) -> Checked:
    """Check the database, then Redis."""
    found = Checked()
    await _database(ctx, found)
    await _redis(ctx, found)
    return found


async def _database(ctx: AppContext, found: Checked) -> None:
    checks = found.checks
    waiting = 0
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), ctx.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
            revision = await conn.run_sync(migrate.current_revision)
            if revision == migrate.head_revision():
                waiting = await records.count_waiting(conn)
        if revision == migrate.head_revision():
            checks["database"] = "ok"
            # A warning, not a failure: every other record is being stored.
            checks["records"] = (
                f"warning: {waiting} record(s) refused by the database wait in the dead letters "
                "(GET /v1/admin/tenants/{tenant}/dead-letters, or the admin UI's Dead letters)"
                if waiting
                else "ok"
            )
        else:
            found.ready = False
            checks["database"] = (
                f"schema at {revision or 'nothing'}, expected {migrate.head_revision()}: run `offerengine migrate`"
            )
    except Exception as exc:
        found.ready = False
        checks["database"] = f"unreachable: {type(exc).__name__}"


async def _redis(ctx: AppContext, found: Checked) -> None:
    if ctx.redis is None:
        found.checks["redis"] = "not configured"
        return
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await ctx.redis.ping()
        found.checks["redis"] = "ok"
    except Exception as exc:
        found.ready = False
        found.checks["redis"] = f"unreachable: {type(exc).__name__}"
