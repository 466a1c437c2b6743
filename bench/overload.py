"""Overload: searches from 500 connections at once, with and without the run-time app's limits.

    .venv/bin/python bench/overload.py [--connections 500] [--seconds 5] [--workers 2]
        [--max-in-flight 64 16 …] [--no-backoff] [--unprotected]

On the demo database (the demo airline's routes, searches 3 days out, each search new: a context
fact of its own, so nothing is reused), ``offerengine serve`` with ``--workers`` takes
``--connections`` keep-alive connections that send one search after another for ``--seconds``
(tests/load.py: bare asyncio streams, a 5-second client timeout). Prints, per in-flight limit
(and, with ``--unprotected``, with no limit and no budget: the behaviour before): the statuses,
client timeouts, admitted searches per second and their p50/p99, and the p50/p99 of the 429/503
refusals. Clients wait as long as Retry-After says before they retry, as well-behaved ones do;
``--no-backoff`` has them retry at once (the worst case: the server spends its time refusing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _http import PYTHON, demo_database, free_port, machine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for tests.load

from tests.load import load, post_request

ROUTES = [("JFK", "LHR"), ("LHR", "JFK"), ("JFK", "CDG"), ("BOS", "LHR"), ("ORD", "LHR")]
UNLIMITED = 100_000


def searches(key: str, url: str, count: int) -> list[bytes]:
    """``count`` distinct search requests (each a context fact of its own: nothing reused)."""
    day = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    return [
        post_request(
            url,
            json.dumps(
                {
                    "origin": ROUTES[i % len(ROUTES)][0],
                    "destination": ROUTES[i % len(ROUTES)][1],
                    "date": day,
                    "passengers": {"adults": 1 + i % 3},
                    "channel": "web",
                    "context": {"visit": str(i)},
                }
            ).encode(),
            {"Authorization": f"Bearer {key}"},
        )
        for i in range(count)
    ]


def run(env: dict[str, str], args: argparse.Namespace, limit: int, budget: float) -> None:
    limits = {
        "OFFERENGINE_MAX_IN_FLIGHT": str(limit),
        "OFFERENGINE_TIME_BUDGET_SECONDS": str(budget),
        "OFFERENGINE_BENCH_ENDPOINTS": "true",
    }
    with serve({**env, **limits}, args.workers) as base:
        url = f"{base}/v1/offers/search"
        requests = searches(env["DEMO_OE_RUNTIME_KEY"], url, 2000)
        # Warm: every worker builds its snapshot and caches before the clock starts.
        asyncio.run(load(url, requests[:50], connections=8, seconds=3, patience=60))
        found = asyncio.run(
            load(
                url,
                requests,
                connections=args.connections,
                seconds=args.seconds,
                honour_retry_after=not args.no_backoff,
            )
        ).summary()
    label = "no limits (before)" if limit == UNLIMITED else f"max_in_flight={limit}"
    print(f"{label}: {json.dumps(found)}", flush=True)


@contextmanager
def serve(env: dict[str, str], workers: int) -> Iterator[str]:
    """``offerengine serve``, waited for as long as a busy shared machine needs to start it
    (bench/_http.py's server gives up after 30 s)."""
    port = free_port()
    command = [PYTHON, "-m", "offerengine", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", str(workers)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        time.sleep(2.0 * workers)  # every worker up, not only the first
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-in-flight", type=int, nargs="+", default=[32])
    parser.add_argument("--no-backoff", action="store_true", help="retry 429/503 at once")
    parser.add_argument(
        "--unprotected", action="store_true", help="also run with no limit and no budget"
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(
        f"{args.connections} connections, {args.seconds:g} s, {args.workers} workers, "
        f"{'no backoff' if args.no_backoff else 'clients honour Retry-After'}"
    )
    with tempfile.TemporaryDirectory() as folder:
        env = demo_database(Path(folder))
        if args.unprotected:
            run(env, args, UNLIMITED, 600)
        for limit in args.max_in_flight:
            run(env, args, limit, 2.0)


if __name__ == "__main__":
    main()
