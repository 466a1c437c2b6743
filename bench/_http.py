"""Shared pieces of the HTTP benchmarks: a server on 127.0.0.1 and wrk as the load generator.

HTTP figures are always reported as a ratio to ``/bench/empty`` of the same server, measured in the
same run, interleaved round by round; the medians of the rounds are printed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

PYTHON = sys.executable
FLOOR = "floor (bare Starlette + msgspec)"


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is needed for HTTP figures: apt-get install -y wrk")
    return wrk


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def offerengine(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [PYTHON, "-m", "offerengine", *args], env=env, check=True, capture_output=True, text=True
    )
    return result.stdout


def demo_database(folder: Path) -> dict[str, str]:
    """A fresh SQLite database with the demo loaded; returns the environment and demo keys."""
    env = {
        **os.environ,
        "OFFERENGINE_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "OFFERENGINE_VAR_DIR": str(folder / "var"),
        "OFFERENGINE_ACCESS_LOG": "false",
        "OFFERENGINE_LOG_LEVEL": "WARNING",
        "OFFERENGINE_BENCH_ENDPOINTS": "true",
        # wrk's connections are all in flight at once: throughput is measured, not shedding
        # (bench/overload.py measures that), so no worker refuses them with a 503.
        "OFFERENGINE_MAX_IN_FLIGHT": "100000",
    }
    offerengine("migrate", env=env)
    offerengine("demo", env=env)
    for line in (folder / "var" / "demo-keys.env").read_text().splitlines():
        if line.startswith("export "):
            name, value = line.removeprefix("export ").split("=", 1)
            env[name] = value
    return env


@contextmanager
def server(env: dict[str, str], workers: int, source: str | None = None) -> Iterator[str]:
    """``offerengine serve`` on a free port; with ``source`` (another checkout's ``src``
    folder), that checkout's code on the same database, to compare commits in one run."""
    port = free_port()
    if source is not None:
        env = {**env, "PYTHONPATH": source}
    process = subprocess.Popen(
        [PYTHON, "-m", "offerengine", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(process, urllib.request.Request(f"{base}/readyz"), workers)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def _wait_until_ready(
    process: subprocess.Popen[bytes], probe: urllib.request.Request, workers: int
) -> None:
    """Until ``probe`` is answered (30 s at most), then a moment for every worker to start."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(probe, timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the server for {probe.full_url} did not start") from None
            time.sleep(0.1)
    time.sleep(0.5 * workers)


@contextmanager
def floor_server(workers: int) -> Iterator[str]:
    """The bare Starlette + msgspec endpoint of bench/floor.py, served as ``offerengine serve``
    serves the app (uvicorn, uvloop, httptools, ``workers`` processes): the physical floor."""
    port = free_port()
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "uvicorn",
            "--app-dir",
            str(Path(__file__).parent),
            "floor:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/floor"
    try:
        _wait_until_ready(process, urllib.request.Request(url, data=b"{}", method="POST"), workers)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def wrk(
    url: str,
    *,
    seconds: int,
    connections: int,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    bodies: list[bytes] | None = None,
    template: bytes | None = None,
) -> Run:
    """Requests per second that wrk sustains against ``url``, with its p50 and p99 latency
    (non-2xx answers fail the run); with
    ``body``, a JSON POST; with ``bodies``, JSON POSTs cycling through them; with ``template``, a
    JSON POST made unique per request (its ``%d`` placeholders get the wrk thread and a count)."""
    command = [require_wrk(), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if template is not None:
            script.write(
                f"local template = [==[{template.decode()}]==]\n"
                "local made = 0\n"
                "function setup(thread) made = made + 1; thread:set('tid', made) end\n"
                "function init(args) count = 0 end\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
                "request = function()\n"
                "  count = count + 1\n"
                '  return wrk.format("POST", nil, nil, string.format(template, tid, count))\n'
                "end\n"
            )
            script.flush()
            command += ["-s", script.name]
        elif bodies:
            script.write(
                "local bodies = {\n"
                + "".join(f"[==[{b.decode()}]==],\n" for b in bodies)
                + "}\nlocal i = 0\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
                "request = function()\n"
                "  i = i % #bodies + 1\n"
                '  return wrk.format("POST", nil, nil, bodies[i])\n'
                "end\n"
            )
            script.flush()
            command += ["-s", script.name]
        elif body is not None:
            script.write(
                'wrk.method = "POST"\n'
                f"wrk.body = [==[{body.decode()}]==]\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
            script.flush()
            command += ["-s", script.name]
        output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    if "Non-2xx or 3xx responses" in output:
        raise RuntimeError(f"errors during the run:\n{output}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if found is None:
        raise RuntimeError(output)
    return Run(float(found.group(1)), _latency(output, "50"), _latency(output, "99"))


class Run(NamedTuple):
    """One wrk run: requests per second, and the median and 99th percentile latency in ms."""

    rps: float
    p50_ms: float
    p99_ms: float


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _latency(output: str, percentile: str) -> float:
    found = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if found is None:
        return float("nan")
    return float(found.group(1)) * _UNITS_MS[found.group(2)]


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass(frozen=True)
class Target:
    """What wrk sends: a GET, or a JSON POST of ``body``, or of ``bodies`` in turn."""

    url: str
    headers: dict[str, str] | None = None
    body: bytes | None = None
    bodies: list[bytes] | None = None
    template: bytes | None = None


def compare(
    targets: dict[str, Target],
    *,
    empty: str,
    rounds: int,
    seconds: int,
    connections: int,
    label: str,
    floor: str | None = None,
) -> dict[str, float]:
    """Run every target ``rounds`` times, interleaved so that noise hits them alike, and print
    each median as a ratio to the median of the ``empty`` target (and of the ``floor`` target,
    the bare Starlette + msgspec endpoint, if there is one); return the medians."""
    results: dict[str, list[Run]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, target in targets.items():
            results[name].append(
                wrk(
                    target.url,
                    seconds=seconds,
                    connections=connections,
                    headers=target.headers,
                    body=target.body,
                    bodies=target.bodies,
                    template=target.template,
                )
            )
    medians = {name: median([r.rps for r in runs]) for name, runs in results.items()}
    p50 = {name: median([r.p50_ms for r in runs]) for name, runs in results.items()}
    p99 = {name: median([r.p99_ms for r in runs]) for name, runs in results.items()}
    baseline = medians[empty]
    print(
        f"{label}: empty {baseline:,.0f} req/s, p50 {p50[empty]:.2f} ms, p99 {p99[empty]:.2f} ms "
        f"(medians of {rounds} rounds, {connections} connections)"
    )
    width = max(len(name) for name in targets)
    for name, value in medians.items():
        if name != empty:
            of_floor = (
                f" = {value / medians[floor]:.0%} of floor" if floor and name != floor else ""
            )
            print(
                f"  {name:{width}} {value:>9,.0f} req/s  = {value / baseline:.0%} of empty"
                f"{of_floor}   p50 {p50[name]:.2f} ms  p99 {p99[name]:.2f} ms"
            )
    return medians


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}"
