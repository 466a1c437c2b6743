"""Short transactions of their own, for what run time writes (events, exposures, orders, cap
counts): framework-free, so that use cases take them as routes do.

The admin's unit of work per request is ``deps.DbSession``; a command outside HTTP uses
:func:`offerengine.units.run_in_transaction`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from offerengine import budget
from offerengine.errors import Conflict

READING = "offerengine.reading"  # in a unit of work's session.info: its request only reads


class Sessions(Protocol):
    """Where sessions come from: the app context has these."""

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def is_sqlite(self) -> bool: ...


@asynccontextmanager
async def write_transaction(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """A short transaction of its own for what run time writes (events, exposures, orders).

    Run-time routes open it only when they have something to write, so that a read-only answer
    never queues for SQLite's write lock (taken up front, so writers queue rather than fail); it
    changes no configuration, so nothing is announced. A collision with a write made at the same
    time (a unique key, or a versioned row changed meanwhile) is a 409. Past the request's time
    budget it is refused before it begins (see :mod:`offerengine.budget`)."""
    budget.commit()
    async with sessions.session_factory() as session:
        if sessions.is_sqlite:
            await session.connection(execution_options={"sqlite_immediate": True})
        try:
            yield session
            await session.commit()
        except (IntegrityError, StaleDataError) as exc:
            await session.rollback()
            raise Conflict(
                "The write collides with another made at the same time; retry it."
            ) from exc
        except BaseException:
            await session.rollback()
            raise


async def release(session: AsyncSession) -> None:
    """Give a unit of work's connection back to the pool before it waits on something that needs
    a connection of its own (a tenant's snapshot being rebuilt, a search reading stock).

    Holding it there starves a busy worker: as many such requests as the pool has connections
    each hold one while waiting for another, and all of them stall for the pool's timeout. Only
    for a unit of work that has read, never written, so far: its read transaction ends (what it
    loaded stays loaded, as sessions do not expire on commit) and its next statement begins
    another. On SQLite a writing unit of work keeps its connection: it holds the write lock,
    which writers take up front and queue for by design (see ``offerengine.db.engine``)."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("release() after a change would commit it before the request is done")
    if not session.info.get(READING, True) and session.get_bind().dialect.name == "sqlite":
        return
    await session.commit()


async def begin_writing(session: AsyncSession) -> None:
    """Turn a reading unit of work (a GET's) into a writing one before it writes.

    On SQLite its read transaction, begun deferred, cannot become a write once another writer has
    committed since it began: SQLite answers SQLITE_BUSY at once, and no busy timeout helps (see
    ``offerengine.db.engine``). So the read ends here (what it loaded stays loaded) and the next
    transaction begins holding the write lock, queueing like every other writer. Elsewhere, and
    for a unit of work that writes already, nothing changes."""
    if not session.info.get(READING, False) or session.get_bind().dialect.name != "sqlite":
        return
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("begin_writing() after a change would commit it before the request")
    await session.commit()
    await session.connection(execution_options={"sqlite_immediate": True})
    session.info[READING] = False
