"""Configuration changes at scale: how soon every worker serves a change, and what changes cost
the decisions served meanwhile.

    .venv/bin/python bench/config_changes.py [--sizes 1000,10000,100000] [--seconds 8]
        [--changes 30] [--redis redis://127.0.0.1:6379/0 | --redis none]

For each size, a tenant of that many decisioning offers (bench/decide.py's generator: 80 % with an
eligibility rule, 200 collections, 100 activities), plus a probe (an activity whose collection
names one offer), served by ``offerengine serve --workers 2``. Prints:

(a) start-up to ready: from starting the server until 50 decisions in a row are answered (both
    workers hold the tenant's snapshot: a worker answers 503 while it builds it);
(b) a single-object change visible on every worker: the probe offer's content is changed through
    the admin API, then decisions on fresh connections (spread over the workers by the kernel)
    until 16 in a row show it; the time from the change's answer to the first of those 16, p50,
    p99 and max over ``--changes`` changes;
(c) run-time decisions (3 activities, dry runs) under wrk: throughput, p50 and p99 with no
    changes and with 10 single-offer changes per second, interleaved round by round.

With Redis (the default when one answers) the change notice is published to every worker; with
``--redis none`` the workers poll the database every second (``snapshot_poll_seconds``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import decide
import sqlalchemy as sa
from _http import PYTHON, demo_database, free_port, machine, median, wrk

from offerengine.context import open_context
from offerengine.decisioning import schemas as s
from offerengine.observability.metrics import Metrics
from offerengine.snapshots.compiler import Compiler
from offerengine.tenants.models import Tenant


def _probe(tenant: uuid.UUID) -> list[Any]:
    placement = decide.decisioning_row(
        tenant, "placement", s.PlacementIn(name="Probe", channel="web", content_type="json")
    )
    rep = [s.Representation(placement_id=placement.id, content={"v": 0})]
    offer = decide.decisioning_row(
        tenant, "offer", s.OfferIn(name="Probe offer", status="approved", representations=rep)
    )
    fallback = decide.decisioning_row(
        tenant, "fallback_offer", s.FallbackOfferIn(name="Probe fallback", representations=rep)
    )
    collection = decide.decisioning_row(
        tenant, "collection", s.CollectionIn(name="Probe", offer_ids=[offer.id])
    )
    activity = decide.decisioning_row(
        tenant,
        "activity",
        s.ActivityIn(
            name="Probe",
            status="approved",
            placement_id=placement.id,
            collection_id=collection.id,
            fallback_offer_id=fallback.id,
        ),
    )
    return [placement, offer, fallback, collection, activity]


async def prepare(env: dict[str, str], offers: int) -> dict[str, Any]:
    """The generated tenant and the probe, stored in one transaction (as an import would)."""
    decide.OFFERS = offers
    ctx = await open_context(decide._settings(env), Metrics())
    try:
        async with ctx.session_factory() as session:
            tenant = await session.scalar(sa.select(Tenant).where(Tenant.code == "OE"))
            assert tenant is not None
            objects = decide.generate(tenant.id, random.Random(7))
            probe = _probe(tenant.id)
            session.add_all([*objects, *probe])
            tenant.config_version += 1
            await session.commit()
            editable = [o for o in objects if o.kind == "offer"][:200]
            return {
                "tenant": tenant.id,
                "activities": [str(o.id) for o in objects if o.kind == "activity"],
                "probe": {
                    "id": str(probe[1].id),
                    "activity": str(probe[4].id),
                    "body": _body(probe[1]),
                },
                "offers": [{"id": str(o.id), "body": _body(o)} for o in editable],
            }
    finally:
        await ctx.close()


def _body(obj: Any) -> dict[str, Any]:
    return {**obj.body, "name": obj.name, "status": obj.status}


def _call(url: str, key: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read() or b"null")


def _probe_value(base: str, key: str, activity: str) -> int:
    answer = _call(
        f"{base}/v1/decisions",
        key,
        {"profile": {"id": "probe"}, "activities": [activity], "dry_run": True},
    )
    return int(answer["propositions"][0]["items"][0]["representation"].get("v", -1))


def start(
    env: dict[str, str], keys: dict[str, str], probe: dict[str, Any]
) -> tuple[Any, str, float]:
    """The server, its URL and the seconds until 50 decisions in a row were answered."""
    port = free_port()
    began = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, "-m", "offerengine", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    in_a_row = 0
    while in_a_row < 50:
        if time.perf_counter() - began > 600 or process.poll() is not None:
            process.terminate()
            raise RuntimeError("the server did not become ready")
        try:
            _probe_value(base, keys["runtime"], probe["activity"])
            in_a_row += 1
        except OSError:
            in_a_row = 0
            time.sleep(0.05)
    return process, base, time.perf_counter() - began


def visibility(base: str, keys: dict[str, str], probe: dict[str, Any], changes: int) -> list[float]:
    """Milliseconds from a change's answer until every worker serves it (16 answers in a row)."""
    seen = []
    for k in range(1, changes + 1):
        body = json.loads(json.dumps(probe["body"]))
        body["representations"][0]["content"] = {"v": k}
        _call(f"{base}/v1/admin/decisioning/offers/{probe['id']}", keys["owner"], body, "PUT")
        committed = time.perf_counter()
        fresh_since: float | None = None
        in_a_row = 0
        while in_a_row < 16:
            sent = time.perf_counter()
            try:
                value = _probe_value(base, keys["runtime"], probe["activity"])
            except OSError:  # a worker still building the tenant whole answers 503
                value = -1
            if value >= k:
                fresh_since = sent if in_a_row == 0 else fresh_since
                in_a_row += 1
            else:
                in_a_row = 0
            if sent - committed > 10:
                break
        assert fresh_since is not None
        seen.append(max(0.0, fresh_since - committed) * 1000)
        time.sleep(0.1)
    return seen


class Changer(threading.Thread):
    """Single-offer changes (a new priority) at ``rate`` per second through the admin API."""

    def __init__(self, base: str, key: str, offers: list[dict[str, Any]], rate: float) -> None:
        super().__init__(daemon=True)
        self.base, self.key, self.offers, self.rate = base, key, offers, rate
        self.stop = threading.Event()
        self.made = 0

    def run(self) -> None:
        rng = random.Random(3)
        next_at = time.perf_counter()
        while not self.stop.is_set():
            offer = rng.choice(self.offers)
            body = {**offer["body"], "priority": rng.randint(0, 1000)}
            _call(f"{self.base}/v1/admin/decisioning/offers/{offer['id']}", self.key, body, "PUT")
            self.made += 1
            next_at += 1 / self.rate
            self.stop.wait(max(0.0, next_at - time.perf_counter()))


def load(
    base: str, keys: dict[str, str], bodies: list[bytes], offers: list[dict[str, Any]], args: Any
) -> dict[str, list[Any]]:
    runs: dict[str, list[Any]] = {"none": [], "10/s": []}
    headers = {"Authorization": f"Bearer {keys['runtime']}"}
    for _ in range(args.rounds):
        for label in runs:
            changer = Changer(base, keys["owner"], offers, 10.0) if label == "10/s" else None
            if changer is not None:
                changer.start()
            run = wrk(
                f"{base}/v1/decisions",
                seconds=args.seconds,
                connections=args.connections,
                headers=headers,
                bodies=bodies,
            )
            if changer is not None:
                changer.stop.set()
                changer.join()
                print(f"    ({changer.made} changes in {args.seconds} s)")
            runs[label].append(run)
    return runs


async def stalls(env: dict[str, str], tenant_id: uuid.UUID, threaded: bool) -> tuple[float, ...]:
    """A whole build of the tenant, on the serving loop or in the compiler's thread, while a
    1 ms ticker on the loop measures how late it wakes (what a request would wait): the build's
    seconds, and the ticker's p99 and max lateness in ms."""
    ctx = await open_context(decide._settings(env), Metrics())
    compiler = Compiler(ctx.session_factory, thread=threaded)
    late: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            began = loop.time()
            await asyncio.sleep(0.001)
            late.append((loop.time() - began - 0.001) * 1000)

    try:
        ticker = asyncio.create_task(tick())
        began = time.perf_counter()
        await compiler.build(tenant_id)
        took = time.perf_counter() - began
        done.set()
        await ticker
    finally:
        await compiler.close()
        await ctx.close()
    late.sort()
    return took, late[int(len(late) * 0.99)], late[-1]


def measure(size: int, args: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = demo_database(Path(folder))
        env["OFFERENGINE_EMBEDDED_CONSUMER"] = "true"
        if args.redis != "none":
            env["OFFERENGINE_REDIS_URL"] = args.redis
            env["OFFERENGINE_REDIS_PREFIX"] = f"oe-bench-{uuid.uuid4().hex[:8]}"
            env["OFFERENGINE_EMBEDDED_CONSUMER"] = "false"
        keys = {"runtime": env["DEMO_OE_RUNTIME_KEY"], "owner": env["DEMO_OE_OWNER_KEY"]}
        began = time.perf_counter()
        made = asyncio.run(prepare(env, size))
        stored = time.perf_counter() - began
        print(f"\n{size:,} decisioning offers (generated and stored in {stored:.0f} s)", flush=True)
        if "loop" in args.parts:
            for threaded in (False, True):
                took, p99, worst = asyncio.run(stalls(env, made["tenant"], threaded))
                where = "in the compiler's thread" if threaded else "on the serving loop"
                print(
                    f"  whole build {where}: {took:.2f} s; the loop woke late by"
                    f" p99 {p99:.1f} ms, max {worst:.0f} ms",
                    flush=True,
                )
        if "http" not in args.parts:
            return
        process, base, ready = start(env, keys, made["probe"])
        try:
            print(f"  start-up to ready (2 workers answering): {ready:.1f} s", flush=True)
            seen = sorted(visibility(base, keys, made["probe"], args.changes))
            p99 = seen[min(len(seen) - 1, int(len(seen) * 0.99))]
            print(
                f"  a change served by every worker after: p50 {statistics.median(seen):.0f} ms"
                f"  p99 {p99:.0f} ms  max {seen[-1]:.0f} ms  ({len(seen)} changes)"
            )
            rng = random.Random(5)
            bodies = [
                json.dumps({**b, "dry_run": True}).encode()
                for b in decide.requests(made["activities"], rng, 3, 200)
            ]
            runs = load(base, keys, bodies, made["offers"], args)
            quiet = median([r.rps for r in runs["none"]])
            for label, found in runs.items():
                rps = median([r.rps for r in found])
                print(
                    f"  decisions, {label:>4} changes: {rps:,.0f} req/s ({rps / quiet:.0%})"
                    f"  p50 {median([r.p50_ms for r in found]):.2f} ms"
                    f"  p99 {median([r.p99_ms for r in found]):.2f} ms"
                )
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="or none")
    parser.add_argument("--parts", default="loop,http", help="loop: build stalls; http: a server")
    args = parser.parse_args()
    load_average = Path("/proc/loadavg").read_text().split()[:3]
    print(f"machine: {machine()}; load average {' '.join(load_average)} at start")
    print(f"change notices: {'Redis' if args.redis != 'none' else 'database poll every 1 s'}")
    for size in [int(n) for n in args.sizes.split(",")]:
        measure(size, args)


if __name__ == "__main__":
    main()
