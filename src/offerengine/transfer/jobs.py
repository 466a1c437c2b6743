"""Imports in the background: a job row says how far a file is, for the admin UI to poll.

:func:`create` stores a job in the request's unit of work; once that committed (the route runs
it after its answer), :func:`run` imports the file in a transaction of its own (the same
all-or-nothing import as the synchronous route); the row is
written when the job starts, as its check begins and when it ends: its counts, or the problem
that refused the file (and then nothing was imported). The rows are checked in a read-only
transaction and written in another, so that on SQLite other writers wait only for the writing. Between those writes the worker running
the job knows its progress row by row (:func:`progress`); another worker shows the row's. On
SQLite the import holds the write lock while it writes, so the row is not written then, and a
worker stopped meanwhile leaves a job ``running`` that never ends (its import rolled back).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from offerengine.auth.core import Actor
from offerengine.clock import utcnow
from offerengine.db.session import Sessions
from offerengine.errors import Conflict, OfferEngineError
from offerengine.observability.logging import get_logger
from offerengine.snapshots import service as snapshots
from offerengine.tenants.models import Tenant
from offerengine.transfer import core
from offerengine.transfer import service as transfer
from offerengine.transfer.kinds import Porter
from offerengine.transfer.models import ImportJob

log = get_logger("offerengine.transfer")
_COLLIDED = "The import collides with another change made at the same time; import it again."
_BROKE = "The import failed on the server and changed nothing; its log says why."
Announce = Callable[[snapshots.Changes], Awaitable[None]]


@dataclass
class _Running:
    phase: str = "reading"
    processed: int = 0
    total: int = 0


# The jobs this worker runs, by id: their progress row by row.
_RUNNING: dict[uuid.UUID, _Running] = {}


def progress(job_id: uuid.UUID) -> tuple[str, int, int] | None:
    """The phase, rows done and rows of a job this worker runs; None for another's."""
    found = _RUNNING.get(job_id)
    return None if found is None else (found.phase, found.processed, found.total)


def create(
    session: AsyncSession, *, tenant: Tenant, porter: Porter, actor: Actor, file_name: str | None
) -> ImportJob:
    """A job for a file, added to the caller's unit of work; :func:`run` it once committed."""
    job = ImportJob(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        kind=porter.path,
        file_name=file_name[:255] if file_name else None,
        status="running",
        phase="reading",
        processed=0,
        total=0,
        created=0,
        updated=0,
        unchanged=0,
        actor_name=actor.name[:200],
        created_at=utcnow(),
    )
    session.add(job)
    return job


async def run(
    sessions: Sessions,
    announce: Announce,
    *,
    job_id: uuid.UUID,
    tenant: Tenant,
    porter: Porter,
    data: bytes,
    fmt: core.Format,
    actor: Actor,
    file_name: str | None,
) -> None:
    """Import ``data`` for the stored job ``job_id``, storing its progress and outcome."""
    running = _RUNNING[job_id] = _Running()
    try:
        await _run(sessions, announce, job_id, tenant, porter, data, fmt, actor, file_name, running)
    finally:
        _RUNNING.pop(job_id, None)


async def _run(
    sessions: Sessions,
    announce: Announce,
    job_id: uuid.UUID,
    tenant: Tenant,
    porter: Porter,
    data: bytes,
    fmt: core.Format,
    actor: Actor,
    file_name: str | None,
    running: _Running,
) -> None:
    def told(phase: str, done: int, total: int) -> None:
        running.phase, running.processed, running.total = phase, done, total

    try:
        rows = await asyncio.to_thread(
            core.read_rows, data, fmt, porter.layout, max_rows=transfer.MAX_ROWS
        )
        told("checking", 0, len(rows.rows))
        await _store(sessions, job_id, phase="checking", total=len(rows.rows))
        # Checked in a read-only transaction first: on SQLite other writers wait for the write
        # lock only while the rows are written, not while they are checked.
        async with sessions.session_factory() as session:
            checked = await transfer.check_rows(
                session, tenant=tenant, porter=porter, rows=rows, progress=told
            )
        async with sessions.session_factory() as session:
            if sessions.is_sqlite:
                await session.connection(execution_options={"sqlite_immediate": True})
            done = await transfer.write_rows(
                session,
                tenant=tenant,
                porter=porter,
                checked=checked,
                actor=actor,
                source=file_name,
                progress=told,
            )
            changes = await snapshots.flush_changes(session)
            await session.commit()
    except (IntegrityError, StaleDataError):
        await _failed(sessions, job_id, _problem(Conflict(_COLLIDED)))
        return
    except OfferEngineError as exc:
        await _failed(sessions, job_id, _problem(exc))
        return
    except Exception:
        log.exception("import job failed", job_id=str(job_id))
        await _failed(sessions, job_id, {"title": "Internal error", "detail": _BROKE})
        return
    await announce(changes)
    await _store(
        sessions,
        job_id,
        status="done",
        phase="done",
        processed=done.rows,
        total=done.rows,
        created=done.created,
        updated=done.updated,
        unchanged=done.unchanged,
        finished_at=utcnow(),
    )


async def _failed(sessions: Sessions, job_id: uuid.UUID, problem: dict[str, Any]) -> None:
    await _store(
        sessions, job_id, status="failed", phase="failed", problem=problem, finished_at=utcnow()
    )


def _problem(exc: OfferEngineError) -> dict[str, Any]:
    """The error as the problem document a route would answer (its type and status aside)."""
    return {
        "title": exc.title,
        "code": exc.code,
        "detail": exc.detail,
        "errors": [e.as_dict() for e in exc.errors],
        **exc.extensions,
    }


async def _store(sessions: Sessions, job_id: uuid.UUID, **values: Any) -> None:
    async with sessions.session_factory() as session:
        await session.execute(sa.update(ImportJob).where(ImportJob.id == job_id).values(**values))
        await session.commit()


async def get(
    session: AsyncSession, *, tenant_id: uuid.UUID, job_id: uuid.UUID
) -> ImportJob | None:
    """A job of the tenant."""
    return await session.scalar(
        sa.select(ImportJob).where(ImportJob.id == job_id, ImportJob.tenant_id == tenant_id)
    )


async def recent(
    session: AsyncSession, *, tenant_id: uuid.UUID, limit: int = 20
) -> list[ImportJob]:
    """The tenant's latest jobs, newest first."""
    rows = await session.scalars(
        sa.select(ImportJob)
        .where(ImportJob.tenant_id == tenant_id)
        .order_by(ImportJob.created_at.desc())
        .limit(limit)
    )
    return list(rows.all())


async def recent_jobs(sessions: Sessions, tenant_id: uuid.UUID, limit: int = 20) -> list[ImportJob]:
    """:func:`recent`, in a session of its own (the admin UI's import page)."""
    async with sessions.session_factory() as session:
        return await recent(session, tenant_id=tenant_id, limit=limit)
