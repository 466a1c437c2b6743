"""Running the service: ``migrate`` (the database schema to the newest version) and ``serve``
(the API under uvicorn, its workers sharing one folder of Prometheus counters)."""

from __future__ import annotations

import os
import shutil
from typing import Annotated

import typer

from offerengine import __version__
from offerengine.cli._common import console, load_settings
from offerengine.db import migrate as migrations


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def migrate() -> None:
    """Create or upgrade the database schema to the newest version."""
    settings = load_settings()
    with console.status(f"Migrating {_redacted(settings.database_url)} …"):
        migrations.upgrade(settings.database_url)
    console.print(f"[green]Database at revision {migrations.head_revision()}[/green]")


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (OFFERENGINE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (OFFERENGINE_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (OFFERENGINE_WORKERS).")
    ] = None,
) -> None:
    """Serve the API (and its docs at /docs) with uvicorn."""
    import uvicorn

    settings = load_settings()
    workers = workers or settings.workers
    if workers > 1:
        # Workers share one folder for Prometheus counters so that /metrics adds them up.
        prom_dir = settings.var_dir / "prometheus"
        shutil.rmtree(prom_dir, ignore_errors=True)
        prom_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prom_dir.resolve())
    host = host or settings.host
    port = port or settings.port
    console.print(
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
