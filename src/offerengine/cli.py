"""The ``offerengine`` command: serve, consume, migrate, demo, create-key, create-user,
decide-batch, replay, and the bandits' train, export-logs and evaluate-policy."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import __version__
from offerengine.auth import service as auth
from offerengine.auth import users
from offerengine.auth.core import Actor, ActorKind, Role
from offerengine.db import migrate as migrations
from offerengine.demo import service as demo_service
from offerengine.errors import Conflict, Invalid, NotFound
from offerengine.learning.policy import SHOP
from offerengine.settings import Settings
from offerengine.tenants import service as tenants
from offerengine.units import run_in_transaction

app = typer.Typer(
    help="OfferEngine: offer management and decisioning. Settings come from OFFERENGINE_* variables.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)
CLI_ACTOR = Actor(ActorKind.CLI, None, "offerengine cli")
DEMO_KEYS_FILE = "demo-keys.env"
T = TypeVar("T")


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
    if result.users:
        people = Table(title="Admin UI users: log in at /admin (passwords shown once; also saved)")
        people.add_column("email")
        people.add_column("password")
        for email, password in result.users.items():
            people.add_row(email, password)
        console.print(people)
        _write_keys(keys_file, _user_lines(result.users))
    created = ", ".join(result.created_tenants) or "none (already loaded)"
    console.print(
        f"Demo tenants created: {created}; products created or updated: {result.products}"
    )
    if not result.keys:
        hint = f"`source {keys_file}`" if keys_file.exists() else "`offerengine create-key`"
        console.print(f"Keys were printed when the demo was first loaded: {hint}.")


def _user_lines(people: dict[str, str]) -> dict[str, str]:
    """Admin UI credentials as variables of the demo keys file: DEMO_USER_<email> = password."""
    return {
        "DEMO_USER_" + "".join(c if c.isalnum() else "_" for c in email).upper(): password
        for email, password in people.items()
    }


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


class UserRole(StrEnum):
    owner = "owner"
    editor = "editor"
    viewer = "viewer"
    platform = "platform"


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="The email the person logs in with.")],
    role: Annotated[UserRole, typer.Option(help="owner, editor, viewer or platform.")],
    tenant: Annotated[
        str | None, typer.Option(help="Tenant code or id (not for platform).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            help="The password (at least 10 characters). Default: a generated one, printed once.",
            envvar="OFFERENGINE_NEW_USER_PASSWORD",
        ),
    ] = None,
) -> None:
    """Create a person who logs in to the admin UI at /admin."""
    if (role is UserRole.platform) != (tenant is None):
        err.print("A platform user takes no --tenant; every other role needs --tenant CODE.")
        raise typer.Exit(2)
    chosen = password or users.new_password()

    async def work(session: AsyncSession) -> None:
        tenant_id = None
        if tenant is not None:
            found = await tenants.find(session, tenant)
            if found is None:
                raise NotFound(f"No tenant {tenant!r}.")
            tenant_id = found.id
        await users.create_user(
            session,
            tenant_id=tenant_id,
            email=email,
            role=Role(role.value),
            password=chosen,
            actor=CLI_ACTOR,
        )

    try:
        asyncio.run(run_in_transaction(_settings(), work))
    except (NotFound, Conflict, Invalid) as exc:
        details = "; ".join(f"{e.loc[-1]}: {e.msg}" for e in getattr(exc, "errors", []))
        err.print(f"{exc}{' (' + details + ')' if details else ''}")
        raise typer.Exit(1) from exc
    if password is None:
        console.print(f"[bold]{chosen}[/bold]")
        err.print(f"{role.value} user {email} created; the password above is not stored.")
    else:
        err.print(f"{role.value} user {email} created.")


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


@app.command()
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
    """Run consumers until SIGTERM or Ctrl-C: the run-time records from the Redis streams
    (stored in bulk, acknowledged, a dead consumer's taken over) and the external events from
    the brokers. Run as many as needed, on any hosts."""
    import signal

    from offerengine.observability.logging import configure_logging
    from offerengine.observability.metrics import Metrics
    from offerengine.recording.process import consume as run_consumers

    settings = _settings()
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

    console.print(f"OfferEngine {__version__}: consuming (records={records}, events={events})")
    asyncio.run(run())


@app.command("decide-batch")
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
    """Decide for every profile of a file, honouring global caps across the batch (the highest
    scores win the limited units) and per-profile caps; counts and records the decisions unless
    --dry-run."""
    from offerengine.decisioning import batch

    settings = _settings()
    try:
        table = batch.read_profiles(profiles)
    except Invalid as exc:
        err.print(str(exc))
        raise typer.Exit(2) from exc
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
        err.print(str(exc))
        raise typer.Exit(2) from exc
    console.print(batch.describe(outcome))
    console.print(f"Decisions written to {outcome.out}" + (" (dry run)" if dry_run else ""))


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
            console=err,
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


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction; a bad name or input is printed, exit code 2."""
    try:
        return asyncio.run(run_in_transaction(_settings(), work))
    except (Invalid, NotFound) as exc:
        err.print(str(exc))
        raise typer.Exit(2) from exc


async def _with_engine(settings: Settings, work: Any) -> Any:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from offerengine.db.engine import create_engine

    engine = create_engine(settings.database_url, pool_size=2)
    try:
        return await work(async_sessionmaker(engine, expire_on_commit=False), engine)
    finally:
        await engine.dispose()


@app.command()
def train(tenant: Annotated[str, typer.Option(help="Tenant code or id.")]) -> None:
    """Train the tenant's contextual bandits on every decision whose reward window has closed
    (workers also do this every OFFERENGINE_LEARNING_TRAIN_SECONDS)."""
    from offerengine.learning import offline

    async def work(session_factory: Any, engine: Any) -> Any:
        return await offline.train_until_done(
            session_factory, tenant, engine.dialect.name == "sqlite"
        )

    try:
        rounds = asyncio.run(_with_engine(_settings(), work))
    except (Invalid, NotFound) as exc:
        err.print(str(exc))
        raise typer.Exit(2) from exc
    table = Table("activity", "line", "version", "learnt now", "new version")
    for r in rounds:
        name = "shop" if r.activity_id == SHOP else str(r.activity_id)
        table.add_row(name, r.line, str(r.version), str(r.learnt), str(r.started))
    console.print(table if rounds else "No contextual bandits to train.")


@app.command("export-logs")
def export_logs(
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
    activity: Annotated[
        str, typer.Option(help="Activity id or name; shop: the offer rules' conversion model.")
    ],
    out: Annotated[Path, typer.Option(help="The JSON Lines file to write.")],
    since: Annotated[
        datetime | None, typer.Option(help="Decisions made from then on (ISO 8601).")
    ] = None,
) -> None:
    """Write the activity's logged decisions whose reward window has closed: per proposal the
    candidates, propensity, features and reward (what evaluate-policy --logs reads)."""
    from offerengine.learning import offline

    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)

    async def work(session: AsyncSession) -> int:
        return await offline.export_logs(session, tenant, activity, out, since)

    n = _in_transaction(work)
    err.print(f"{n} logged proposals written to {out}")


@app.command("evaluate-policy")
def evaluate_policy(
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
    activity: Annotated[
        str, typer.Option(help="Activity id or name; shop: the offer rules' conversion model.")
    ],
    policy: Annotated[
        list[str],
        typer.Option(
            help="priority, random, logged, shadow, model:<version or id>, formula:<name>; "
            "repeat for several."
        ),
    ],
    logs: Annotated[
        Path | None,
        typer.Option(
            help="JSON Lines from export-logs; default: the database's logs.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    interval: Annotated[
        str, typer.Option(help="normal (approximation) or bootstrap (2000 resamples).")
    ] = "normal",
) -> None:
    """What each policy would have earned per decision on the logged decisions (IPS, SNIPS,
    direct method, doubly robust, with 95% intervals) beside what the logged policy earned."""
    from offerengine.learning import evaluate, offline

    if interval not in ("normal", "bootstrap"):
        err.print("--interval is normal or bootstrap")
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return await offline.evaluate_policies(session, tenant, activity, logs, policy, interval)

    results = _in_transaction(work)
    for result in results:
        console.print(evaluate.table(result), highlight=False)
        console.print()


@app.command("train-uplift")
def train_uplift(
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
    promotion: Annotated[str, typer.Option(help="The promotion's code.")],
    history: Annotated[
        Path | None,
        typer.Option(
            help="Parquet or CSV of a randomised past promotion: treated, bought (0/1) and the "
            "promotion's feature columns.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    synthetic: Annotated[
        int | None,
        typer.Option(help="Instead, this many synthetic shoppers (a demonstration)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds the split and synthetic shoppers.")] = 0,
) -> None:
    """Train a promotion's uplift model (two gradient-boosted classifiers, treated and control)
    and print its Qini coefficient on a held-out third, beside random targeting's."""
    from offerengine.promotions import offline

    if (history is None) == (synthetic is None):
        err.print("Give --history FILE or --synthetic N.")
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await offline.train(session, tenant, promotion, history, synthetic, seed)

    found = _in_transaction(work)
    console.print(
        f"{found['promotion']} model v{found['version']}: {found['customers']:,} customers "
        f"({found['treated']:,} treated); Qini on {found['held_out']:,} held out: model "
        f"{found['qini_model']}, random {found['qini_random']}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("recommend-promotions")
def recommend_promotions(
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
    customers: Annotated[
        Path,
        typer.Option(
            help="Parquet or CSV: a customer_id column and feature columns (stored profiles "
            "fill in the rest).",
            exists=True,
            dir_okay=False,
        ),
    ],
    out: Annotated[Path, typer.Option(help="Where to write the grants (.csv).")],
    budget: Annotated[
        str | None, typer.Option(help="At most this much of the promotions' budgets.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Grant and count nothing.")] = False,
) -> None:
    """Which promotion to give each customer of a file, by expected incremental margin within
    the budgets, stock and per-customer limits; counts the grants unless --dry-run."""
    from decimal import Decimal, InvalidOperation

    from offerengine.promotions import offline

    try:
        amount = None if budget is None else Decimal(budget)
    except InvalidOperation as exc:
        err.print(f"--budget {budget!r} is not an amount")
        raise typer.Exit(2) from exc

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await offline.recommend_file(session, tenant, customers, out, amount, dry_run)

    found = _in_transaction(work)
    console.print(
        f"{found['grants']:,} of {found['customers']:,} customers get a promotion; expected cost "
        f"{found['expected_cost']}, expected incremental margin "
        f"{found['expected_incremental_margin']}" + (" (dry run)" if dry_run else ""),
        highlight=False,
        soft_wrap=True,
    )
    console.print("left out:", dict(sorted(found["skipped"].items())), highlight=False)
    if found["promotions_not_offered"]:
        console.print("not offered:", found["promotions_not_offered"], highlight=False)
    console.print(f"grants written to {out}", highlight=False)


@app.command()
def replay(
    tenant: Annotated[
        str | None, typer.Option(help="Tenant code or id; default: every tenant.")
    ] = None,
) -> None:
    """Rebuild the profiles' aggregates from the stored events (wiped, then every event added
    again in time order); the same result however often it runs."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from offerengine.db.base import utcnow
    from offerengine.profiles import service as profiles
    from offerengine.snapshots import build as snapshots

    async def codes(session: AsyncSession) -> list[str]:
        if tenant is not None:
            found = await tenants.find(session, tenant)
            if found is None:
                raise NotFound(f"No tenant {tenant!r}.")
            return [found.code]
        return [t.code for t in await tenants.list_tenants(session)]

    with Progress(
        "{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as bar:
        for code in _in_transaction(codes):
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
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )

            rebuilt = _in_transaction(work)
            console.print(
                f"{code}: {rebuilt.profiles:,} profiles rebuilt from {rebuilt.events:,} events",
                highlight=False,
            )


def main() -> None:
    app()
