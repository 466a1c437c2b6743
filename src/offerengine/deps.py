"""Dependencies shared by every router, as ``Annotated`` aliases.

``DbSession`` is the unit of work of a request: one transaction, committed after the route returns
and before the response is sent (FastAPI's ``scope="function"``), rolled back on any error; the
configuration and key changes it made are then announced to every worker. Services never commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from offerengine.context import AppContext
from offerengine.db.session import READING
from offerengine.db.session import begin_writing as begin_writing  # for routes: see its doc
from offerengine.db.session import release as release  # for routes: see its doc
from offerengine.errors import Conflict
from offerengine.snapshots import service as snapshots

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def context_of(request: Request) -> AppContext:
    """The app context of the worker serving ``request``: the one place that reads it off the app
    (its lifespan put it there). Admin routes take it as :data:`Ctx`; run-time operations get it
    in their :class:`~offerengine.http.runtime.Call`."""
    return cast(AppContext, request.app.state.context)


async def get_context(request: Request) -> AppContext:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a costly hop per request.
    return context_of(request)


Ctx = Annotated[AppContext, Depends(get_context)]


async def _unit_of_work(request: Request, ctx: Ctx) -> AsyncIterator[AsyncSession]:
    async with ctx.session_factory() as session:
        session.info[READING] = request.method in READ_METHODS
        if ctx.is_sqlite and request.method not in READ_METHODS:
            # Writers take SQLite's write lock up front (see db.engine): they queue, never fail.
            await session.connection(execution_options={"sqlite_immediate": True})
        try:
            yield session
            changes = await snapshots.flush_changes(session)
            await session.commit()
        except (IntegrityError, StaleDataError) as exc:
            await session.rollback()
            raise Conflict(
                "The change collides with another change made at the same time; retry it."
            ) from exc
        except BaseException:
            await session.rollback()
            raise
    await ctx.feed.announce(changes)


DbSession = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]


def request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value else None
