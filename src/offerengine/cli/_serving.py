"""Running the service: ``migrate`` (the database schema to the newest version) and ``serve``
(the API under uvicorn, its workers sharing one folder of Prometheus counters)."""

from __future__ import annotations

import os
import shutil
from typing import Annotated

import typer

from offerengine import __version__
from offerengine.cli._common import NO_DATABASE, console, database_problem, load_settings


def migrate() -> None:
    """Create or upgrade the database schema.

    To the newest version, in the database OFFERENGINE_DATABASE_URL names (a SQLite file is
    made if it is not there yet)."""
    from offerengine.db import migrate as migrations

    settings = load_settings()
    where = migrations.describe(settings.database_url)
    with console().status(f"Migrating {where} …"):
        migrations.upgrade(settings.database_url)
    console().print(
        f"[green]Database at revision {migrations.head_revision()}[/green]: {where}",
        highlight=False,
        soft_wrap=True,  # a path is copied whole, never broken across lines
    )


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (OFFERENGINE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (OFFERENGINE_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (OFFERENGINE_WORKERS).")
    ] = None,
) -> None:
    """Serve the API (and its docs at /docs) with uvicorn.

    A SQLite file that is not there is refused (make it with `offerengine migrate`); a database
    not migrated yet, or a server not answering yet, is a warning, and /readyz answers 503
    until it is put right."""
    import uvicorn

    settings = load_settings()
    problem = database_problem(settings)
    if problem is not None and problem.fatal:
        typer.echo(problem.text, err=True)
        raise typer.Exit(NO_DATABASE)
    if problem is not None:  # served: /readyz answers 503 until it is put right
        typer.echo(f"Warning: {problem.text}", err=True)
    workers = workers or settings.workers
    if workers > 1:
        # Workers share one folder for Prometheus counters so that /metrics adds them up.
        prom_dir = settings.var_dir / "prometheus"
        shutil.rmtree(prom_dir, ignore_errors=True)
        prom_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prom_dir.resolve())
    host = host or settings.host
    port = port or settings.port
    console().print(
        f"OfferEngine {__version__} on http://{host}:{port} (docs: http://{host}:{port}/docs)"
    )
    uvicorn.run(
        "offerengine.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        proxy_headers=False,
    )
