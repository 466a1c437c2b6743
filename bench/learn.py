"""Learning: decision latency with contextual bandit ranking against priority ranking, and how
fast the bandits learn.

    .venv/bin/python bench/learn.py [--iterations 2000] [--decisions 20000] [--rounds 3]

A demo database gets one placement, 20 offers with a representation for it, a collection, and
four activities over the same candidates: priority ranking, and bandits by linear Thompson
sampling, LinUCB and epsilon-greedy over 10 features; each bandit starts from a version that has
learnt 5,000 rewards on every offer. Prints (a) in-process p50/p99 of a decision per ranking —
dry runs and recorded — and each bandit's p50 as a ratio to priority's; (b) bandit updates per
second (numpy, one arm update); (c) a training round's throughput: --decisions recorded decisions
and their click events, learnt from by `store.train` in rounds of 2,000 (SQLite), decisions per
second; (d) with --parts http, HTTP throughput of POST /v1/decisions for the Thompson and priority
activities as ratios to POST /bench/empty of the same server; (e) with --parts shop, in-process
search latency (the demo's JFK→LHR searches, as served: `ShopRuntime.search`, no reuse of identical
searches) with the offer rules' conversion model by each method (a version that has learnt 5,000
rewards per offer type, the same 10 features) against the Beta-Binomial conversion alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from _http import Target, compare, demo_database, machine, server
from decide import decisioning_row

from offerengine.context import open_context
from offerengine.db.base import utcnow
from offerengine.decisioning import runtime
from offerengine.decisioning import schemas as s
from offerengine.decisioning.models import DecisioningObject
from offerengine.events.models import Event
from offerengine.learning import bandit, store
from offerengine.learning.models import DecisionLog, LearningModel
from offerengine.observability.metrics import Metrics
from offerengine.settings import Settings
from offerengine.shopping.config import OFFER_RULES
from offerengine.shopping.reuse import ResultCache
from offerengine.shopping.schemas import OfferRulesIn, SearchRequest
from offerengine.snapshots.build import build
from offerengine.tenants.models import Tenant

OFFERS = 20
FEATURES = [f"profile.f{i}" for i in range(7)] + [
    "profile.tier=GOLD",
    "context.channel=app",
    "context.days_to_departure",
]
METHODS = ("thompson", "linucb", "epsilon_greedy")


def generate(tenant: uuid.UUID) -> tuple[list[DecisioningObject], dict[str, uuid.UUID]]:
    placement = decisioning_row(
        tenant, "placement", s.PlacementIn(name="Bench slot", channel="web", content_type="json")
    )
    offers = [
        decisioning_row(
            tenant,
            "offer",
            s.OfferIn(
                name=f"Bench offer {i}",
                status="approved",
                priority=i,
                tags=["bench-learn"],
                representations=[
                    s.Representation(placement_id=placement.id, content={"headline": f"O{i}"})
                ],
                value=10 + i,
                cost=1,
            ),
        )
        for i in range(OFFERS)
    ]
    fallback = decisioning_row(
        tenant,
        "fallback_offer",
        s.FallbackOfferIn(
            name="Bench fallback",
            representations=[s.Representation(placement_id=placement.id, content={"h": "hi"})],
        ),
    )
    collection = decisioning_row(
        tenant, "collection", s.CollectionIn(name="Bench", tags=["bench-learn"])
    )
    rankings: dict[str, s.Ranking] = {"priority": s.Ranking()}
    for method in METHODS:
        rankings[method] = s.Ranking(
            method="model",
            contextual=s.Contextual(method=method, features=FEATURES, reward_window_seconds=1),
        )
    activities = {
        name: decisioning_row(
            tenant,
            "activity",
            s.ActivityIn(
                name=f"Bench {name}",
                status="approved",
                placement_id=placement.id,
                collection_id=collection.id,
                fallback_offer_id=fallback.id,
                ranking=ranking,
            ),
        )
        for name, ranking in rankings.items()
    }
    objects = [placement, *offers, fallback, collection, *activities.values()]
    return objects, {name: a.id for name, a in activities.items()}


def _settings(env: dict[str, str]) -> Settings:
    return Settings(
        database_url=env["OFFERENGINE_DATABASE_URL"],
        learning_train_seconds=0,
        learning_refresh_seconds=3600,
    )


def _context(rng: random.Random) -> dict[str, Any]:
    return {
        "profile": {
            "id": f"p{rng.randrange(100_000)}",
            "attributes": {
                **{f"f{i}": rng.random() for i in range(7)},
                "tier": rng.choice(["GOLD", "SILVER"]),
            },
        },
        "context": {
            "channel": rng.choice(["app", "web"]),
            "days_to_departure": rng.randint(0, 60),
        },
    }


async def prepare(env: dict[str, str]) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    """The objects, and for each bandit a version that has learnt 5,000 rewards per offer."""
    ctx = await open_context(_settings(env), Metrics())
    try:
        async with ctx.session_factory() as session:
            tenant = await session.scalar(sa.select(Tenant).where(Tenant.code == "OE"))
            assert tenant is not None
            objects, activities = generate(tenant.id)
            session.add_all(objects)
            tenant.config_version += 1
            await session.commit()
            snapshot = await build(session, tenant.id)
            assert snapshot is not None
            rng = np.random.default_rng(1)
            for activity, spec in store.lines(snapshot):
                model = spec.fresh()
                for offer in activity.candidates:
                    xs = rng.random((5000, spec.dimension))
                    xs[:, 0] = 1.0
                    for x in xs:
                        model.update(offer.key, x, float(rng.random() < 0.1))
                session.add(
                    LearningModel(
                        tenant_id=tenant.id,
                        activity_id=activity.id,
                        line=spec.line,
                        version=1,
                        active=True,
                        settings_key=spec.key,
                        shape=spec.shape,
                        settings=spec.document(),
                        state=model.to_dict(),
                        started_from=None,
                        revision=0,
                        decisions=5000 * OFFERS,
                        reward_total=0.0,
                    )
                )
            await session.commit()
            return tenant.id, activities
    finally:
        await ctx.close()


async def in_process(
    env: dict[str, str], tenant_id: uuid.UUID, activities: dict[str, uuid.UUID], n: int
) -> None:
    ctx = await open_context(_settings(env), Metrics())
    try:
        snapshot = await ctx.snapshots.get(tenant_id)
        rng = random.Random(3)
        p50s: dict[tuple[str, bool], float] = {}
        for dry_run in (True, False):
            for name, activity_id in activities.items():
                bodies = [
                    s.DecisionRequest.model_validate(
                        {**_context(rng), "activities": [str(activity_id)], "dry_run": dry_run}
                    )
                    for _ in range(200)
                ]
                for body in bodies[:20]:  # warm: the models are read once
                    await runtime.decide(ctx, snapshot, body, utcnow())
                times = []
                for i in range(n):
                    began = time.perf_counter()
                    await runtime.decide(ctx, snapshot, bodies[i % len(bodies)], utcnow())
                    times.append(time.perf_counter() - began)
                times.sort()
                p50 = times[len(times) // 2] * 1000
                p99 = times[int(len(times) * 0.99)] * 1000
                p50s[(name, dry_run)] = p50
                kind = "dry run " if dry_run else "recorded"
                ratio = p50 / p50s[("priority", dry_run)]
                print(
                    f"  {name:>14}, {OFFERS} candidates, {kind}: p50 {p50:.3f} ms  "
                    f"p99 {p99:.3f} ms  (p50 × {ratio:.2f} of priority)"
                )
        await ctx.recorder.flush()
    finally:
        await ctx.close()


async def shop(env: dict[str, str], tenant_id: uuid.UUID, n: int) -> None:
    """Search latency with the conversion model by each method against without it."""
    ctx = await open_context(_settings(env), Metrics())
    rng = random.Random(6)
    day = (utcnow() + timedelta(days=3)).date().isoformat()
    requests = [
        SearchRequest.model_validate(
            {
                "origin": "JFK",
                "destination": "LHR",
                "date": day,
                "customer": {"id": c["profile"]["id"], **c["profile"]["attributes"]},
                "channel": c["context"]["channel"],
                "context": {"days_to_departure": c["context"]["days_to_departure"]},
            }
        )
        for c in (_context(rng) for _ in range(200))
    ]
    try:
        # Every snapshot first (the last method's version is the one stored; the others serve
        # its state under their own settings, as between a settings change and its round), then
        # rounds that take turns, so that the machine's drift and the writer's backlog fall on all.
        snapshots = {
            m or "Beta-Binomial": await _conversion_model(ctx, tenant_id, m)
            for m in (None, *METHODS)
        }
        ctx.shop.results = ResultCache(0)  # every search ranks afresh
        times: dict[str, list[float]] = {name: [] for name in snapshots}
        for snapshot in snapshots.values():
            for request in requests[:20]:  # warm: counters and the model are read once
                await ctx.shop.search(snapshot, request, utcnow())
        for turn in range(10):
            for name, snapshot in snapshots.items():
                for i in range(turn * n // 10, (turn + 1) * n // 10):
                    began = time.perf_counter()
                    await ctx.shop.search(snapshot, requests[i % len(requests)], utcnow())
                    times[name].append(time.perf_counter() - began)
                await ctx.recorder.flush()
        base = sorted(times["Beta-Binomial"])[len(times["Beta-Binomial"]) // 2]
        for name, found in times.items():
            found.sort()
            p50, p99 = found[len(found) // 2] * 1000, found[int(len(found) * 0.99)] * 1000
            print(
                f"  search, conversion by {name:>14}: p50 {p50:.3f} ms  p99 {p99:.3f} ms  "
                f"(p50 × {p50 / (base * 1000):.2f} of Beta-Binomial)"
            )
    finally:
        await ctx.close()


async def _conversion_model(ctx: Any, tenant_id: uuid.UUID, method: str | None) -> Any:
    """The tenant's snapshot with the demo's offer rules and a conversion model by ``method``
    (None: none), whose active version has learnt 5,000 rewards per offer type."""
    async with ctx.session_factory() as session:
        doc = await OFFER_RULES.get(session, tenant_id)
        assert doc is not None
        data = {k: v for k, v in doc.data.items() if k != "conversion_model"}
        if method is not None:
            data["conversion_model"] = {"method": method, "features": FEATURES}
        doc.data = OfferRulesIn.model_validate(data).model_dump(mode="json", by_alias=True)
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.config_version += 1
        await session.commit()
        snapshot = await build(session, tenant_id)
        assert snapshot is not None
        learner = snapshot.shopping.learner
        if learner is not None:
            spec = learner.contextual
            assert spec is not None
            model = spec.fresh()
            generator = np.random.default_rng(7)
            for action in learner.candidates:
                xs = generator.random((5000, spec.dimension))
                xs[:, 0] = 1.0
                for x in xs:
                    model.update(action.key, x, float(generator.random() < 0.1))
            await session.execute(
                sa.delete(LearningModel).where(LearningModel.activity_id == learner.id)
            )
            session.add(
                LearningModel(
                    tenant_id=tenant_id,
                    activity_id=learner.id,
                    line=spec.line,
                    version=1,
                    active=True,
                    settings_key=spec.key,
                    shape=spec.shape,
                    settings=spec.document(),
                    state=model.to_dict(),
                    started_from=None,
                    revision=0,
                    decisions=5000 * len(learner.candidates),
                    reward_total=0.0,
                )
            )
            await session.commit()
    ctx.models.forget(tenant_id)
    return snapshot


def updates_per_second(n: int) -> None:
    dimension = 1 + len(FEATURES)
    model = bandit.LinearBandit(dimension)
    rng = np.random.default_rng(2)
    xs = rng.random((n, dimension))
    rewards = (rng.random(n) < 0.1).astype(float)
    keys = [f"o{i % OFFERS}" for i in range(n)]
    began = time.perf_counter()
    for key, x, r in zip(keys, xs, rewards, strict=True):
        model.update(key, x, float(r))
    seconds = time.perf_counter() - began
    print(f"  bandit.update, d={dimension}: {n / seconds:,.0f} updates/s (numpy, one process)")


async def training(
    env: dict[str, str], tenant_id: uuid.UUID, activities: dict[str, uuid.UUID], n: int
) -> None:
    """n recorded decisions of the Thompson activity, a click on every tenth, then rounds."""
    ctx = await open_context(_settings(env), Metrics())
    try:
        snapshot = await ctx.snapshots.get(tenant_id)
        activity = snapshot.decisioning.activities[activities["thompson"]]
        spec = activity.contextual
        assert spec is not None
        rng = random.Random(4)
        made = utcnow() - timedelta(minutes=5)
        decisions, events = [], []
        for i in range(n):
            offer = rng.choice(activity.candidates)
            decision_id = uuid.uuid4()
            x = [1.0, *(rng.random() for _ in FEATURES)]
            decisions.append(
                {
                    "tenant_id": tenant_id,
                    "decision_id": decision_id,
                    "activity_id": activity.id,
                    "rank": 0,
                    "made_at": made + timedelta(milliseconds=i),
                    "offer_id": offer.key,
                    "propensity": 0.5,
                    "candidates": [o.key for o in activity.candidates],
                    "contexts": {spec.shape: x},
                    "model": {"line": "live", "version": 1},
                    "shadow": None,
                }
            )
            if i % 10 == 0:
                events.append(
                    {
                        "id": uuid.uuid4(),
                        "tenant_id": tenant_id,
                        "type": "click",
                        "profile_id": f"t{i}",
                        "decision_id": decision_id,
                        "offer_id": offer.key,
                        "activity_id": activity.id,
                        "occurred_at": made + timedelta(milliseconds=i + 100),
                        "received_at": made,
                        "properties": {},
                    }
                )
        async with ctx.session_factory() as session:
            await session.execute(sa.delete(DecisionLog).where(DecisionLog.tenant_id == tenant_id))
            await session.execute(sa.insert(DecisionLog), decisions)
            await session.execute(sa.insert(Event), events)
            await session.commit()
        learnt, began = 0, time.perf_counter()
        while True:
            async with ctx.session_factory() as session:
                rounds = await store.train(session, tenant_id, snapshot, now=utcnow())
                await session.commit()
            done = sum(r.learnt for r in rounds if r.activity_id == activity.id)
            if not done:
                break
            learnt += done
        seconds = time.perf_counter() - began
        print(
            f"  training rounds (SQLite): {learnt:,} decisions learnt by the Thompson line in "
            f"{seconds:.2f} s: {learnt / seconds:,.0f} decisions/s (rewards joined from events)"
        )
    finally:
        await ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--updates", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--parts", default="in-process,updates,training,shop")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        env = demo_database(Path(folder))
        env["OFFERENGINE_LEARNING_TRAIN_SECONDS"] = "0"
        tenant_id, activities = asyncio.run(prepare(env))
        if "in-process" in parts:
            print("decision latency, in process:")
            asyncio.run(in_process(env, tenant_id, activities, args.iterations))
        if "updates" in parts:
            updates_per_second(args.updates)
        if "training" in parts:
            asyncio.run(training(env, tenant_id, activities, args.decisions))
        if "shop" in parts:
            print("search latency, in process, with the offer rules' conversion model:")
            asyncio.run(shop(env, tenant_id, args.iterations))
        if "http" in parts:
            key = {"Authorization": f"Bearer {env['DEMO_OE_RUNTIME_KEY']}"}
            rng = random.Random(5)
            bodies = {
                name: [
                    json.dumps({**_context(rng), "activities": [str(activities[name])]}).encode()
                    for _ in range(200)
                ]
                for name in ("priority", "thompson", "linucb")
            }
            dry = [
                json.dumps({**json.loads(b), "dry_run": True}).encode() for b in bodies["thompson"]
            ]
            with server(env, 1) as base:
                compare(
                    {
                        "empty (POST /bench/empty)": Target(
                            f"{base}/bench/empty", bodies=bodies["priority"]
                        ),
                        "POST /v1/decisions, priority": Target(
                            f"{base}/v1/decisions", key, bodies=bodies["priority"]
                        ),
                        "POST /v1/decisions, thompson": Target(
                            f"{base}/v1/decisions", key, bodies=bodies["thompson"]
                        ),
                        "POST /v1/decisions, thompson, dry runs": Target(
                            f"{base}/v1/decisions", key, bodies=dry
                        ),
                        "POST /v1/decisions, linucb": Target(
                            f"{base}/v1/decisions", key, bodies=bodies["linucb"]
                        ),
                    },
                    empty="empty (POST /bench/empty)",
                    rounds=args.rounds,
                    seconds=args.seconds,
                    connections=args.connections,
                    label="workers=1",
                )


if __name__ == "__main__":
    main()
