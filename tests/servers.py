"""Real servers for tests: ``offerengine serve`` in a subprocess, on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx

from tests.conftest import LOAD_GUARDS_OFF, PLATFORM_KEY, free_port


@contextmanager
def serve(
    database_url: str,
    var_dir: Path,
    *,
    workers: int = 1,
    redis_url: str | None = None,
    redis_prefix: str = "oe-test",
    poll_seconds: float = 0.2,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """Start a server (on ``port``, else a free one); yield its base URL; stop it (SIGTERM,
    then SIGKILL) at the end."""
    port = port or free_port()
    env = {
        **os.environ,
        "OFFERENGINE_DATABASE_URL": database_url,
        "OFFERENGINE_PLATFORM_KEY": PLATFORM_KEY,
        "OFFERENGINE_ACCESS_LOG": "false",
        "OFFERENGINE_LOG_LEVEL": "WARNING",
        "OFFERENGINE_VAR_DIR": str(var_dir),
        "OFFERENGINE_REDIS_PREFIX": redis_prefix,
        "OFFERENGINE_SNAPSHOT_POLL_SECONDS": str(poll_seconds),
        # The latency guards are off for functional tests, as in tests/conftest.py's settings.
        "OFFERENGINE_TIME_BUDGET_SECONDS": str(LOAD_GUARDS_OFF["time_budget_seconds"]),
        "OFFERENGINE_TIME_BUDGETS": json.dumps(LOAD_GUARDS_OFF["time_budgets"]),
        "OFFERENGINE_MAX_IN_FLIGHT": str(LOAD_GUARDS_OFF["max_in_flight"]),
        **(extra_env or {}),
    }
    if redis_url:
        env["OFFERENGINE_REDIS_URL"] = redis_url
    else:
        env.pop("OFFERENGINE_REDIS_URL", None)
    log = (var_dir / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "offerengine",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, var_dir / f"server-{port}.log")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60  # two workers import the app at once, on a busy machine
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not become ready: {log.read_text(errors='replace')[-2000:]}")
