"""A PostgreSQL and a Redis of a test's own, in a temporary folder on a free port, that the test
may stop, start and empty as it likes (the shared servers on 5432 and 6379 are never touched).

PostgreSQL refuses to run as root: there, its commands run as the ``postgres`` user, which owns
the data folder. Every wait polls with a deadline; none is a fixed sleep.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import IN_CI, free_port


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is not installed; with CI=true its tests must run, not skip")
    pytest.skip(f"{what} is not installed")


def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``check`` until it holds; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds} s")
        time.sleep(0.05)


class OwnPostgres:
    """``initdb`` into a temporary folder; :meth:`start` and :meth:`stop` (``pg_ctl -m fast``)."""

    def __init__(self) -> None:
        bin_dir = _pg_bin()
        if bin_dir is None:
            _missing("PostgreSQL (pg_ctl, initdb)")
        assert bin_dir is not None
        self.bin = bin_dir
        # A folder of its own right under the system's temporary folder: pytest's are private to
        # the user running the tests, whom PostgreSQL may not be.
        self.folder = Path(tempfile.mkdtemp(prefix="offerengine-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr.decode(errors='replace')[-2000:]}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.data / "log"),
            "-w",
            "start",
        )
        until(self.answers, 30, "PostgreSQL answers")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    try:
        server.start()
        yield server
    finally:
        if server.answers():
            server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


class OwnRedis:
    """A ``redis-server`` that keeps nothing on disk: :meth:`restart` empties it."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            _missing("redis-server")
        assert binary is not None
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        until(self.answers, 30, "Redis answers")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def restart(self) -> None:
        """Stop and start again: with no persistence, every key is gone."""
        self.stop()
        self.start()

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False


@contextmanager
def own_redis(folder: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
