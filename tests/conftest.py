"""Shared fixtures.

The integration suite runs against SQLite and PostgreSQL for real. PostgreSQL tests use a schema of
their own per test run (so runs never collide), truncated between tests; Redis tests use a key prefix
of their own per test. Outside CI a missing server skips its tests with a message; with CI=true it
fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.db import migrate
from offerengine.settings import Settings

PG_URL = os.environ.get(
    "OFFERENGINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("OFFERENGINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("OFFERENGINE_TEST_NATS_URL", "nats://127.0.0.1:4222")
IN_CI = os.environ.get("CI", "").lower() == "true"
PLATFORM_KEY = "oek_test-platform-key-0123456789abcdefghijklmnopq"
TABLES = (
    "dead_letters",
    "audit_log",
    "object_versions",
    "products",
    "airports",
    "api_keys",
    "tenants",
)


def _pg_up() -> bool:
    try:
        with psycopg.connect(PG_URL, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _nats_up() -> bool:
    """A NATS server answers, with JetStream (its INFO line says so)."""
    from urllib.parse import urlsplit

    where = urlsplit(NATS_URL)
    try:
        with socket.create_connection((where.hostname, where.port or 4222), timeout=2) as sock:
            return b'"jetstream":true' in sock.makefile("rb").readline()
    except OSError:
        return False


def need(service: str, available: bool) -> None:
    """Skip (or, in CI, fail) a test whose server is not running."""
    if available:
        return
    url = {"PostgreSQL": PG_URL, "NATS": NATS_URL}.get(service, REDIS_URL)
    message = f"{service} is not reachable ({url})"
    if IN_CI:
        pytest.fail(f"{message}; with CI=true its tests must run, not skip")
    pytest.skip(f"{message}; start it to run these tests")


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return _pg_up()


@pytest.fixture(scope="session")
def redis_available() -> bool:
    return _redis_up()


@pytest.fixture(scope="session")
def nats_available() -> bool:
    return _nats_up()


@pytest.fixture(scope="session")
def pg_schema_url(pg_available: bool) -> Iterator[str]:
    """A PostgreSQL schema of this test run, migrated once; dropped at the end."""
    need("PostgreSQL", pg_available)
    schema = f"oe_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    migrate.upgrade(url)
    try:
        yield url
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def reset_postgres(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        conn.execute("UPDATE system_state SET value = 0")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "offerengine.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def fresh_sqlite(template: Path, folder: Path) -> str:
    target = folder / "offerengine.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated, empty database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        return fresh_sqlite(sqlite_template, tmp_path)
    url: str = request.getfixturevalue("pg_schema_url")
    reset_postgres(url)
    return url


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated, empty SQLite database (for tests where the backend does not matter)."""
    return fresh_sqlite(sqlite_template, tmp_path)


@pytest.fixture
def redis_url(redis_available: bool) -> str:
    need("Redis", redis_available)
    return REDIS_URL


@pytest.fixture
def nats_url(nats_available: bool) -> str:
    """A NATS server with JetStream (tests name their own stream, subjects and consumer)."""
    need("NATS", nats_available)
    return NATS_URL


# Functional tests run on a shared, loaded CI box, where a quote can take longer than its 2 s
# production budget and more than 32 requests can be in flight on a worker: what they check is
# the answer, not the latency guards, which tests/unit/test_overload.py, tests/e2e/
# test_time_budget.py and tests/chaos/test_overload.py check with their own settings.
LOAD_GUARDS_OFF: dict[str, Any] = {
    "time_budget_seconds": 120.0,
    "time_budgets": {"quote": 120.0},
    "max_in_flight": 10_000,
}


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "platform_key": PLATFORM_KEY,
        "access_log": False,
        "log_level": "WARNING",
        "var_dir": tmp_path / "var",
        "redis_prefix": f"oe-test-{uuid.uuid4().hex[:12]}",
        "snapshot_poll_seconds": 0.2,
        **LOAD_GUARDS_OFF,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return make_settings(sqlite_url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
