"""Which shared dependency an exception says is away: the database or Redis.

An outage is not a defect of the request: the answer is a 503 with Retry-After, never a 500, and
the next request tries again (the pool tests each connection on checkout and replaces a dead one;
the Redis clients connect again on their next command). Recognised, by the exception and every
exception it was raised from:

- the database: any SQLAlchemy ``DBAPIError`` whose connection was invalidated or whose driver
  (psycopg, asyncpg) says the server is away (refused, closed or dropped the connection, is
  shutting down or out of connections: no SQLSTATE, or one of classes 08, 57P and 53), the same
  errors of the drivers unwrapped, and the pool's ``TimeoutError`` (no connection came in time);
- Redis: redis-py's ``ConnectionError`` and ``TimeoutError`` (what :mod:`offerengine.redis_line`
  raises too);
- either: the operating system's ``ConnectionError`` (refused, reset, broken pipe) from a socket,
  named by the library that raised it.

SQLite's errors are never an outage here: a file cannot be away, and its ``OperationalError``
also says "no such table" (a defect, a 500); "database is locked" (busy, not away) is answered as
a 503 by the problem handlers themselves.
"""

from __future__ import annotations

from collections.abc import Iterator

from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

# The classes of what may say a dependency is away (a web app registers its handler for these).
OUTAGE_TYPES: tuple[type[Exception], ...] = (
    sa_errors.DBAPIError,
    sa_errors.TimeoutError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    ConnectionError,
)
DATABASE = "database"
REDIS = "redis"
_DRIVERS = ("psycopg", "asyncpg", "sqlalchemy")


def dependency_down(exc: BaseException) -> str | None:
    """``"database"`` or ``"redis"`` when ``exc`` (or what it was raised from) says that one is
    away; None for any other error."""
    for found in _chain(exc):
        if isinstance(found, redis_errors.ConnectionError | redis_errors.TimeoutError):
            return REDIS
        if isinstance(found, sa_errors.DBAPIError):
            return DATABASE if _database_away(found) else None
        if isinstance(found, sa_errors.TimeoutError):  # the pool's: no connection in time
            return DATABASE
        if _connection_failed(found):  # a driver's own, not wrapped by SQLAlchemy
            return DATABASE
        if isinstance(found, ConnectionError):
            return _named_by_traceback(found)
    return None


def _database_away(exc: sa_errors.DBAPIError) -> bool:
    """Whether SQLAlchemy's error is the connection's, not the statement's: "no such table" is
    an ``OperationalError`` on SQLite too, and a defect, not an outage."""
    return exc.connection_invalidated or _connection_failed(exc.orig)


def _connection_failed(exc: BaseException | None) -> bool:
    """A PostgreSQL driver's error that means the server is away: no connection (no SQLSTATE), a
    connection exception (08…), the server shutting down or starting (57P…), or out of
    connections or memory (53…)."""
    if exc is None or type(exc).__module__.split(".")[0] not in ("psycopg", "asyncpg"):
        return False
    name = type(exc).__name__
    state = getattr(exc, "sqlstate", None)
    if state is None:
        return name in ("OperationalError", "InterfaceError") or "Connection" in name
    return str(state).startswith(("08", "57P", "53"))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, once each."""
    seen: set[int] = set()
    found: BaseException | None = exc
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        yield found
        found = found.__cause__ or found.__context__


def _named_by_traceback(exc: BaseException) -> str | None:
    """The dependency whose client raised an operating system's connection error, by the
    modules its traceback passed through (None when neither's)."""
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith(("redis", "offerengine.redis_line")):
            return REDIS
        if module.split(".")[0] in _DRIVERS:
            return DATABASE
        tb = tb.tb_next
    return None
