"""Flag evaluation: in process, and over HTTP (our endpoint and OFREP) against an empty endpoint.

    .venv/bin/python bench/flags.py [--rounds 3] [--seconds 5]

Prints (a) in-process evaluations per second of seed 002's flag (a 50% rollout over segments and
regions) and of a flag with three targeting rules, through ``offerengine.flags.core`` and through the
OpenFeature provider; (b) HTTP throughput of POST /v1/feature-flags/{key}/evaluate and POST
/ofrep/v1/evaluate/flags/{key} with a runtime key, each as a ratio to POST /bench/empty of the same
server in the same run, with 1 and 2 workers.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

from _http import FLOOR, Target, compare, demo_database, floor_server, machine, server
from openfeature import api as openfeature
from openfeature.evaluation_context import EvaluationContext

from offerengine.experiments.core import ExperimentIndex
from offerengine.flags import core
from offerengine.openfeature import OfferEngineProvider

SEED_FLAG = {
    "key": "dynamic_pricing",
    "name": "Dynamic Pricing",
    "description": "Enable dynamic pricing based on demand",
    "type": "BOOLEAN",
    "value": True,
    "is_enabled": True,
    "rollout": {
        "percentage": 50.0,
        "user_segments": ["premium", "vip"],
        "regions": ["Istanbul", "Ankara"],
    },
}
RULES_FLAG = {
    "key": "express_multiplier",
    "name": "Express multiplier",
    "type": "NUMBER",
    "value": 1.5,
    "default_value": 1.0,
    "is_enabled": True,
    "rules": [
        {
            "type": "force",
            "id": "staff",
            "condition": {"email": {"$regex": "@mk\\.example$"}},
            "value": 2.0,
        },
        {
            "type": "force",
            "id": "vip",
            "condition": {"segment": {"$in": ["vip"]}, "attributes.age": {"$gte": 30}},
            "value": 1.8,
        },
        {"type": "rollout", "id": "half", "percentage": 50, "value": 1.7},
    ],
}
CONTEXT = {"user_id": "u-1001", "segment": "vip", "region": "Istanbul", "attributes": {"age": 41}}


def compiled(flag: dict[str, object]) -> core.Flag:
    from offerengine.flags.models import FeatureFlag
    from offerengine.flags.schemas import FeatureFlagCreate
    from offerengine.flags.service import _values, compile_stored

    now = datetime.now(UTC)
    row = FeatureFlag(
        **_values(FeatureFlagCreate.model_validate(flag)),
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        version=1,
        created_at=now,
        updated_at=now,
    )
    return compile_stored(row)


def in_process(iterations: int) -> None:
    index = ExperimentIndex.build([])
    now = datetime.now(UTC)
    for flag in (compiled(SEED_FLAG), compiled(RULES_FLAG)):
        contexts = [core.attributes_of({**CONTEXT, "user_id": f"u-{i}"}) for i in range(1000)]
        started = time.perf_counter()
        for i in range(iterations):
            core.evaluate(flag, contexts[i % 1000], at=now, experiments_index=index)
        seconds = time.perf_counter() - started
        print(
            f"in-process {flag.key:20} {iterations / seconds:>10,.0f} evaluations/s "
            f"({seconds / iterations * 1e6:.2f} µs each, one core)"
        )


def sdk(iterations: int, base: str, key: str) -> None:
    provider = OfferEngineProvider.remote(base, key)
    openfeature.set_provider(provider, domain="remote")
    client = openfeature.get_client(domain="remote")
    context = EvaluationContext("u-1001", {"segment": "vip", "region": "Istanbul"})
    started = time.perf_counter()
    for _ in range(iterations):
        client.get_boolean_value("dynamic_pricing", False, context)
    seconds = time.perf_counter() - started
    print(
        f"openfeature-sdk over OFREP, one client thread: {iterations / seconds:,.0f} evaluations/s"
    )


def create_flags(base: str, editor_key: str) -> None:
    # The demo marketplace has the seed's flag already (docs/quotes.md); add the rules flag.
    for flag in (RULES_FLAG,):
        request = urllib.request.Request(
            f"{base}/v1/admin/tenants/MKT/feature-flags",
            data=json.dumps(flag).encode(),
            headers={"Authorization": f"Bearer {editor_key}", "Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request).read()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    in_process(200_000)
    with tempfile.TemporaryDirectory() as folder:
        env = demo_database(Path(folder))
        key = {"Authorization": f"Bearer {env['DEMO_MKT_RUNTIME_KEY']}"}
        created = False
        for workers in (1, 2):
            with server(env, workers) as base, floor_server(workers) as floor:
                if not created:
                    create_flags(base, env["DEMO_MKT_EDITOR_KEY"])
                    created = True
                    sdk(2000, base, env["DEMO_MKT_RUNTIME_KEY"])
                evaluate = json.dumps({"context": CONTEXT}).encode()
                ofrep = json.dumps({"context": {**CONTEXT, "targetingKey": "u-1001"}}).encode()
                compare(
                    {
                        "empty (POST /bench/empty)": Target(f"{base}/bench/empty", body=evaluate),
                        FLOOR: Target(floor, body=evaluate),
                        "POST /v1/feature-flags/{key}/evaluate": Target(
                            f"{base}/v1/feature-flags/dynamic_pricing/evaluate", key, evaluate
                        ),
                        "POST /ofrep/v1/evaluate/flags/{key}": Target(
                            f"{base}/ofrep/v1/evaluate/flags/dynamic_pricing", key, ofrep
                        ),
                    },
                    empty="empty (POST /bench/empty)",
                    floor=FLOOR,
                    rounds=args.rounds,
                    seconds=args.seconds,
                    connections=args.connections,
                    label=f"workers={workers}",
                )


if __name__ == "__main__":
    main()
