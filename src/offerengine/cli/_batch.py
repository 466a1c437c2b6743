"""``decide-batch``: decide for every profile of a file, on the database and the caps' counters
(Redis when the workers count there, else SQL), with a progress bar per phase on stderr."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from offerengine.cli._common import console, database_settings, err

if TYPE_CHECKING:
    from offerengine.settings import Settings


def decide_batch(
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
    activities: Annotated[str, typer.Option(help="Activity ids or names, comma-separated.")],
    profiles: Annotated[
        Path,
        typer.Option(
            help="Parquet or CSV: a profile_id column, attribute columns, context.* columns.",
            exists=True,
            dir_okay=False,
        ),
    ],
    out: Annotated[Path, typer.Option(help="Where to write the decisions (.parquet or .csv).")],
    count: Annotated[int, typer.Option(min=1, max=50, help="Items per activity.")] = 1,
    allow_duplicates: Annotated[
        bool, typer.Option(help="Let one offer be proposed for several activities.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option(help="Count nothing and record nothing; only write --out.")
    ] = False,
    scheduler: Annotated[
        str | None,
        typer.Option(help="A Dask scheduler address (tcp://host:8786) to rank on its workers."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed Thompson sampling, to repeat a run exactly.")
    ] = None,
) -> None:
    """Decide for every profile of a file.

    Honours global caps across the batch (the highest scores win the limited units) and
    per-profile caps; counts and records the decisions unless --dry-run."""
    from offerengine.decisioning import batch
    from offerengine.errors import Invalid, NotFound

    try:
        table = batch.read_profiles(profiles)
    except Invalid as exc:
        err().print(str(exc))
        raise typer.Exit(2) from exc
    settings = database_settings()
    try:
        outcome = asyncio.run(
            _decide_batch(
                settings,
                tenant,
                [a.strip() for a in activities.split(",") if a.strip()],
                table,
                out,
                count=count,
                allow_duplicates=allow_duplicates,
                dry_run=dry_run,
                scheduler=scheduler,
                seed=seed,
            )
        )
    except (Invalid, NotFound) as exc:
        err().print(str(exc))
        raise typer.Exit(2) from exc
    console().print(batch.describe(outcome))
    console().print(f"Decisions written to {outcome.out}" + (" (dry run)" if dry_run else ""))


async def _decide_batch(
    settings: Settings,
    tenant: str,
    activities: list[str],
    table: Any,
    out: Path,
    **options: Any,
) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from offerengine.db.base import utcnow
    from offerengine.db.engine import create_engine
    from offerengine.decisioning import batch
    from offerengine.errors import NotFound
    from offerengine.tenants import service as tenants

    engine = create_engine(settings.database_url, pool_size=2)
    redis = None
    try:
        session_factory = async_sessionmaker(engine, expire_on_commit=False)
        async with session_factory() as session:
            found = await tenants.find(session, tenant)
            if found is None:
                raise NotFound(f"No tenant {tenant!r}.")
            tenant_id, tenant_settings = found.id, dict(found.settings)
        now = utcnow()
        counters: batch.BatchCounters
        if settings.redis_url:
            from redis.asyncio import Redis

            redis = Redis.from_url(settings.redis_url, socket_timeout=30)
            counters = batch.RedisBatchCounters(redis, settings.redis_prefix, tenant_id, now)
        else:
            counters = batch.SqlBatchCounters(
                session_factory, tenant_id, now, is_sqlite=engine.dialect.name == "sqlite"
            )
        with Progress(
            "{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err(),
        ) as bar:
            tasks: dict[str, Any] = {}

            def progress(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=total)
                bar.update(tasks[phase], completed=done)

            return await batch.decide_batch(
                session_factory,
                counters,
                tenant_id=tenant_id,
                settings=tenant_settings,
                activities=activities,
                table=table,
                out=out,
                now=now,
                progress=progress,
                **options,
            )
    finally:
        if redis is not None:
            await redis.aclose()
        await engine.dispose()
