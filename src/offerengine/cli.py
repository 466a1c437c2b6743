"""The ``offerengine`` command: serve, migrate, demo, create-key."""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import __version__
from offerengine.auth import service as auth
from offerengine.auth.core import Actor, ActorKind, Role
from offerengine.db import migrate as migrations
from offerengine.db.session import run_in_transaction
from offerengine.demo import service as demo_service
from offerengine.errors import NotFound
from offerengine.settings import Settings
from offerengine.tenants import service as tenants

app = typer.Typer(
    help="OfferEngine: offer management and decisioning. Settings come from OFFERENGINE_* variables.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)
CLI_ACTOR = Actor(ActorKind.CLI, None, "offerengine cli")
DEMO_KEYS_FILE = "demo-keys.env"


def _version(value: bool) -> None:
    if value:
        console.print(f"offerengine {__version__}")
        raise typer.Exit


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """OfferEngine."""


def _settings() -> Settings:
    return Settings()


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest version."""
    settings = _settings()
    with console.status(f"Migrating {_redacted(settings.database_url)} …"):
        migrations.upgrade(settings.database_url)
    console.print(f"[green]Database at revision {migrations.head_revision()}[/green]")


@app.command()
def demo() -> None:
    """Load the demo tenants (airline OE, marketplace MKT); safe to run again."""
    settings = _settings()
    result = asyncio.run(
        run_in_transaction(settings, lambda s: demo_service.load(s, actor=CLI_ACTOR))
    )
    keys_file = settings.var_dir / DEMO_KEYS_FILE
    if result.keys:
        _write_keys(keys_file, result.keys)
        table = Table(title="Demo API keys (shown once; also saved to " + str(keys_file) + ")")
        table.add_column("variable")
        table.add_column("key")
        for name, secret in result.keys.items():
            table.add_row(name, secret)
        console.print(table)
    created = ", ".join(result.created_tenants) or "none (already loaded)"
    console.print(
        f"Demo tenants created: {created}; products created or updated: {result.products}"
    )
    if not result.keys:
        hint = f"`source {keys_file}`" if keys_file.exists() else "`offerengine create-key`"
        console.print(f"Keys were printed when the demo was first loaded: {hint}.")


def _write_keys(path: Path, keys: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [f"# OfferEngine demo keys, created {stamp}. Secrets: keep this file private."]
    lines += [f"export {name}={secret}" for name, secret in keys.items()]
    # Keep keys from an earlier run that this run did not replace (e.g. the platform key).
    lines += [
        line
        for line in old.splitlines()
        if line.startswith("export ") and line.split("=", 1)[0].removeprefix("export ") not in keys
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


class KeyRole(StrEnum):
    owner = "owner"
    editor = "editor"
    viewer = "viewer"
    runtime = "runtime"


@app.command("create-key")
def create_key(
    tenant: Annotated[str | None, typer.Option(help="Tenant code or id.")] = None,
    role: Annotated[KeyRole | None, typer.Option(help="Role of a tenant key.")] = None,
    platform: Annotated[bool, typer.Option("--platform", help="Create a platform key.")] = False,
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")] = "cli",
) -> None:
    """Create an API key and print its secret (shown only this once)."""
    if platform == (tenant is not None):
        err.print("Give either --platform, or --tenant CODE --role ROLE.")
        raise typer.Exit(2)
    if tenant is not None and role is None:
        err.print("A tenant key needs --role (owner, editor, viewer or runtime).")
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> auth.CreatedKey:
        tenant_id = None
        if tenant is not None:
            found = await tenants.find(session, tenant)
            if found is None:
                raise NotFound(f"No tenant {tenant!r}.")
            tenant_id = found.id
        key_role = Role.PLATFORM if platform else Role(str(role))
        return await auth.create_key(
            session, tenant_id=tenant_id, name=name, role=key_role, actor=CLI_ACTOR
        )

    try:
        created = asyncio.run(run_in_transaction(_settings(), work))
    except NotFound as exc:
        err.print(str(exc))
        raise typer.Exit(1) from exc
    console.print(f"[bold]{created.secret}[/bold]")
    err.print(f"{created.key.role} key {created.key.id} created; the secret above is not stored.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (OFFERENGINE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (OFFERENGINE_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (OFFERENGINE_WORKERS).")
    ] = None,
) -> None:
    """Serve the API (and its docs at /docs) with uvicorn."""
    import uvicorn

    settings = _settings()
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


def main() -> None:
    app()
