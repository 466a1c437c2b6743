"""Dead letters: read them, and write their records again once what refused them is fixed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from offerengine.db.session import Sessions
from offerengine.errors import NotFound
from offerengine.recording import records, store
from offerengine.recording.models import DeadLetter
from offerengine.recording.store import brief, is_outage


async def list_dead_letters(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    redriven: bool | None = None,
    limit: int = 50,
) -> list[DeadLetter]:
    """The tenant's dead letters, newest first; ``redriven`` picks those written since (True) or
    still waiting (False)."""
    query = sa.select(DeadLetter).where(DeadLetter.tenant_id == tenant_id)
    if redriven is not None:
        query = query.where(
            DeadLetter.redriven_at.is_not(None) if redriven else DeadLetter.redriven_at.is_(None)
        )
    found = await session.scalars(query.order_by(DeadLetter.created_at.desc()).limit(limit))
    return list(found)


async def read_dead_letters(
    sessions: Sessions, *, tenant_id: uuid.UUID, redriven: bool | None = None, limit: int = 50
) -> list[DeadLetter]:
    """:func:`list_dead_letters`, in a session of its own (the admin UI's dead letters page)."""
    async with sessions.session_factory() as session:
        return await list_dead_letters(session, tenant_id=tenant_id, redriven=redriven, limit=limit)


async def count_waiting(connection: AsyncConnection | AsyncSession) -> int:
    """Dead letters of every tenant not re-driven yet."""
    found = await connection.scalar(
        sa.select(sa.func.count()).select_from(DeadLetter).where(DeadLetter.redriven_at.is_(None))
    )
    return int(found or 0)


@dataclass(frozen=True, slots=True)
class Redriven:
    """A dead letter after a re-drive: written (``error`` None) or refused again."""

    letter: DeadLetter
    error: str | None


async def redrive(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    ids: Sequence[uuid.UUID] | None,
    now: datetime,
) -> list[Redriven]:
    """Write the records of the tenant's waiting dead letters ``ids`` (all of them when None)
    again, each on its own; one written is marked re-driven, one refused again keeps its letter
    with the new error. An unknown id is a 404 and nothing is written."""
    query = sa.select(DeadLetter).where(
        DeadLetter.tenant_id == tenant_id,
        DeadLetter.redriven_at.is_(None),
        # A broker's event set aside is no record to write again: it is published again, fixed.
        DeadLetter.kind.in_(records.KIND_NAMES),
    )
    if ids is not None:
        query = query.where(DeadLetter.id.in_(ids))
    letters = list(await session.scalars(query.order_by(DeadLetter.created_at)))
    if ids is not None:
        missing = set(ids) - {letter.id for letter in letters}
        if missing:
            raise NotFound(f"No dead letter waiting with id {sorted(map(str, missing))[0]}.")
    done: list[Redriven] = []
    for letter in letters:
        record = records.from_json(letter.payload)
        error = await _write(session, record)
        if error is None:
            letter.redriven_at = now
        else:
            letter.error = error[:4000]
        done.append(Redriven(letter, error))
    return done


async def _write(session: AsyncSession, record: records.AnyRecord) -> str | None:
    """Write ``record`` in the session's transaction, under a savepoint of its own: None once
    written, else what the database said (and the savepoint rolled back). An outage is raised."""
    connection = await session.connection()
    try:
        async with connection.begin_nested():
            await connection.run_sync(store.write, [record])
    except Exception as exc:
        if is_outage(exc):
            raise
        return brief(exc)
    return None
