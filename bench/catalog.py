"""The foundation's run-time read: an active product served from the compiled snapshot.

    .venv/bin/python bench/catalog.py [--rounds 3] [--seconds 5]

Prints (a) in-process cost of answering from the snapshot, and (b) HTTP throughput of
GET /v1/catalog/products/{code} and GET /v1/catalog/products (all the demo airline's products) with a runtime key,
each as a ratio to /bench/empty of the same server in the same run, with 1 and 2 workers.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from _http import Target, compare, demo_database, machine, median, server

from offerengine.context import open_context
from offerengine.observability.logging import configure_logging
from offerengine.observability.metrics import Metrics
from offerengine.settings import Settings


async def in_process(env: dict[str, str], iterations: int) -> tuple[float, float, float, int]:
    """µs per snapshot lookup + answer for one product and for the list; µs per snapshot build."""
    settings = Settings(database_url=env["OFFERENGINE_DATABASE_URL"], log_level="WARNING")
    configure_logging(settings)
    context = await open_context(settings, Metrics())
    try:
        async with context.session_factory() as session:
            from offerengine.tenants import service as tenants

            tenant = await tenants.find(session, "OE")
        assert tenant is not None
        tenant_id: uuid.UUID = tenant.id
        await context.snapshots.get(tenant_id)
        started = time.perf_counter()
        for _ in range(iterations):
            snapshot = await context.snapshots.get(tenant_id)
            snapshot.catalog.encoded.get("BAG-23KG")
        one = (time.perf_counter() - started) / iterations * 1e6
        started = time.perf_counter()
        for _ in range(iterations):
            snapshot = await context.snapshots.get(tenant_id)
            snapshot.catalog.encode_list(snapshot.catalog.select())
        listing = (time.perf_counter() - started) / iterations * 1e6
        builds = [snapshot.build_seconds]
        for version in range(20):
            context.snapshots.observe(tenant_id, snapshot.version + version + 1, local=True)
            try:
                builds.append((await context.snapshots.get(tenant_id)).build_seconds)
            except Exception:
                break
        return one, listing, median(builds) * 1e6, len(snapshot.catalog.by_code)
    finally:
        await context.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        env = demo_database(Path(folder))
        one, listing, build, count = asyncio.run(in_process(env, 20_000))
        print(
            f"in-process: one product {one:.2f} µs, list of {count} {listing:.2f} µs, "
            f"snapshot build {build:.0f} µs"
        )
        key = {"Authorization": f"Bearer {env['DEMO_OE_RUNTIME_KEY']}"}
        for workers in (1, 2):
            with server(env, workers) as base:
                compare(
                    {
                        "empty (/bench/empty)": Target(f"{base}/bench/empty"),
                        "GET /v1/catalog/products/{code}": Target(
                            f"{base}/v1/catalog/products/BAG-23KG", key
                        ),
                        "GET /v1/catalog/products": Target(f"{base}/v1/catalog/products", key),
                    },
                    empty="empty (/bench/empty)",
                    rounds=args.rounds,
                    seconds=args.seconds,
                    connections=args.connections,
                    label=f"workers={workers}",
                )


if __name__ == "__main__":
    main()
