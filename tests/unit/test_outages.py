"""Which errors say a dependency is away (a 503 to retry) and which are defects (a 500)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
import redis
from psycopg import errors as pg
from sqlalchemy import exc

from offerengine.outages import dependency_down


def _wrapped(orig: BaseException, kind: type[exc.DBAPIError] = exc.OperationalError) -> Exception:
    return kind("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    ("error", "down"),
    [
        (_wrapped(psycopg.OperationalError("connection refused")), "database"),
        (_wrapped(pg.AdminShutdown("terminating connection")), "database"),
        (_wrapped(pg.TooManyConnections("too many clients")), "database"),
        (
            _wrapped(psycopg.InterfaceError("the connection is closed"), exc.InterfaceError),
            "database",
        ),
        (exc.TimeoutError("QueuePool limit reached"), "database"),
        (redis.ConnectionError("Connection refused"), "redis"),
        (redis.TimeoutError("Timeout reading"), "redis"),
        (_wrapped(sqlite3.OperationalError("no such table: x")), None),
        (_wrapped(pg.DeadlockDetected("deadlock detected")), None),
        (_wrapped(pg.UniqueViolation("duplicate key"), exc.IntegrityError), None),
        (ValueError("a defect"), None),
    ],
)
def test_an_error_names_the_dependency_that_is_away_or_none(
    error: Exception, down: str | None
) -> None:
    assert dependency_down(error) == down


def test_an_outage_is_found_behind_the_error_it_caused() -> None:
    error = RuntimeError("the stream append failed")
    error.__cause__ = redis.ConnectionError("Connection reset by peer")
    assert dependency_down(error) == "redis"
