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

from offerengine.errors import Conflict


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
    time (a unique key, or a versioned row changed meanwhile) is a 409."""
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
