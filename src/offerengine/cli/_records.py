"""What the engine records, and what is rebuilt from it: ``consume`` (the consumers of the
run-time records' Redis streams and of the external events' brokers), ``replay`` (the
profiles' aggregates and features rebuilt from the stored events) and ``profiles
rebuild-features`` (their features only)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

from offerengine import __version__
from offerengine.cli._common import console, database_settings, err, in_transaction

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def consume(
    records: Annotated[
        bool, typer.Option(help="Store the run-time records of the Redis streams.")
    ] = True,
    events: Annotated[
        bool, typer.Option(help="Ingest external events from NATS and the Redis events stream.")
    ] = True,
    name: Annotated[
        str | None, typer.Option(help="This consumer's name in the groups (default: host-pid).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this process's Prometheus metrics on this port.")
    ] = None,
) -> None:
    """Run the consumers of records and events.

    Until SIGTERM or Ctrl-C: the run-time records from the Redis streams
    (stored in bulk, acknowledged, a dead consumer's taken over) and the external events from
    the brokers. Run as many as needed, on any hosts."""
    import signal

    from offerengine.observability.logging import configure_logging
    from offerengine.observability.metrics import Metrics
    from offerengine.recording.process import consume as run_consumers

    settings = database_settings()
    configure_logging(settings)
    metrics = Metrics()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_consumers(
            settings, stop, metrics=metrics, records=records, events=events, name=name
        )

    console().print(f"OfferEngine {__version__}: consuming (records={records}, events={events})")
    asyncio.run(run())


def replay(
    tenant: Annotated[
        str | None, typer.Option(help="Tenant code or id; default: every tenant.")
    ] = None,
) -> None:
    """Rebuild the profiles' aggregates and features from the events.

    They are wiped, then every stored event is added again in time order: the same
    result however often it runs."""
    _rebuild(tenant, frozenset({"aggregates", "features"}), "")


def rebuild_features(
    tenant: Annotated[
        str | None, typer.Option(help="Tenant code or id; default: every tenant.")
    ] = None,
) -> None:
    """Recompute the profiles' features from the stored events.

    Their day buckets and sums are wiped, then every stored event of theirs is added again in
    time order: the same features as the events' consumers kept, however often it runs."""
    _rebuild(tenant, frozenset({"features"}), "features of ")


def _rebuild(tenant: str | None, parts: frozenset[str], what: str) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from offerengine.db.base import utcnow
    from offerengine.errors import NotFound
    from offerengine.profiles import service as profiles
    from offerengine.snapshots import build as snapshots
    from offerengine.tenants import service as tenants

    async def codes(session: AsyncSession) -> list[str]:
        if tenant is not None:
            found = await tenants.find(session, tenant)
            if found is None:
                raise NotFound(f"No tenant {tenant!r}.")
            return [found.code]
        return [t.code for t in await tenants.list_tenants(session)]

    with Progress(
        "{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err()
    ) as bar:
        for code in in_transaction(codes):
            task = bar.add_task(f"{code} events", total=None)

            async def work(
                session: AsyncSession, code: str = code, task: Any = task
            ) -> profiles.Rebuilt:
                found = await tenants.find(session, code)
                built = await snapshots.build(session, found.id) if found else None
                if found is None or built is None:
                    raise NotFound(f"No tenant {code!r}.")
                return await profiles.replay(
                    session,
                    found.id,
                    built.decisioning,
                    now=utcnow(),
                    currency=found.base_currency,
                    parts=parts,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )

            rebuilt = in_transaction(work)
            console().print(
                f"{code}: {what}{rebuilt.profiles:,} profiles rebuilt from "
                f"{rebuilt.events:,} events",
                highlight=False,
            )
