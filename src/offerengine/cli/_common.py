"""What every command shares: the consoles, the actor the audit trail names, the settings, the
check that the database a command needs is there, and running a piece of work in one
transaction (a bad name or input printed, exit code 2).

Nothing heavy is imported here at import time: ``offerengine --help`` builds every command's
options from the command modules, and those import only this and Typer. Rich, SQLAlchemy, the
settings' pydantic and the use cases are imported by the functions that need them.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.ext.asyncio import AsyncSession

    from offerengine.auth.core import Actor
    from offerengine.settings import Settings

T = TypeVar("T")
DATABASE_VARIABLE = "OFFERENGINE_DATABASE_URL"
NO_DATABASE = 1  # the exit code of a command whose database is missing or not migrated


@cache
def console() -> Console:
    """Standard output, through Rich."""
    from rich.console import Console

    return Console()


@cache
def err() -> Console:
    """Standard error, through Rich: messages, progress bars."""
    from rich.console import Console

    return Console(stderr=True)


def cli_actor() -> Actor:
    """The actor the audit trail names for what the CLI changes."""
    from offerengine.auth.core import Actor, ActorKind

    return Actor(ActorKind.CLI, None, "offerengine cli")


def load_settings() -> Settings:
    """The settings from the OFFERENGINE_* variables, read when a command runs."""
    from pydantic import ValidationError

    from offerengine.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:  # a variable that is not what its setting takes
        for error in exc.errors():
            name = "OFFERENGINE_" + "_".join(str(part) for part in error["loc"]).upper()
            typer.echo(f"{name}: {error['msg']}", err=True)
        raise typer.Exit(2) from exc


def database_settings() -> Settings:
    """The settings, once the database they name is there and migrated; else a message that
    says where it was looked for and how to point at another, and exit code 1.

    A command run from another folder than the one holding ``var/`` would otherwise create an
    empty SQLite file where the default relative URL points, and fail on its missing tables."""
    settings = load_settings()
    problem = database_problem(settings)
    if problem is not None:
        typer.echo(problem.text, err=True)
        raise typer.Exit(NO_DATABASE)
    return settings


class DatabaseProblem(NamedTuple):
    text: str  # what is wrong, where the database was looked for, and what to do
    # Nothing a server could wait for: a URL we cannot use, or no SQLite file (serving would
    # make an empty one). A server not answering may come back, a migration may run.
    fatal: bool


def database_problem(settings: Settings) -> DatabaseProblem | None:
    """What is wrong with the settings' database for a command that uses it (None: nothing):
    no SQLite file, no server answering, or a schema not at this version's revision."""
    from sqlalchemy.exc import ArgumentError

    from offerengine.db import migrate

    url = settings.database_url
    try:
        revision = migrate.revision_at(url)
    except (ArgumentError, ValueError) as exc:  # not a URL, or not a database we drive
        text = f"{DATABASE_VARIABLE}={url!r} is not a database URL we can use: {exc}."
        return DatabaseProblem(text, fatal=True)
    except migrate.NoDatabase as exc:
        source = _source(settings)
        text = (
            f"No OfferEngine database at {exc.where}: {exc.reason}.\n"
            f"({source}.)\n"
            f"Point {DATABASE_VARIABLE} at yours, for example "
            f"{DATABASE_VARIABLE}=sqlite:////srv/offerengine/var/offerengine.db or "
            f"{DATABASE_VARIABLE}=postgresql://user@host:5432/offerengine; or make a new one "
            "there with `offerengine migrate` (and `offerengine demo` for demo data)."
        )
        return DatabaseProblem(text, fatal=migrate.is_sqlite_file(url))
    head = migrate.head_revision()
    if revision == head:
        return None
    where, source = migrate.describe(url), _source(settings)
    state = "has no OfferEngine tables" if revision is None else f"is at revision {revision}"
    text = (
        f"The database at {where} {state}; this offerengine needs revision {head}.\n"
        f"({source}.)\n"
        f"Run `offerengine migrate` with the same {DATABASE_VARIABLE}, or point "
        f"{DATABASE_VARIABLE} at the database you meant."
    )
    return DatabaseProblem(text, fatal=False)


def _source(settings: Settings) -> str:
    """Where the database URL came from, as a person would check it."""
    from offerengine.db import migrate

    shown = migrate.redacted(settings.database_url)
    if "database_url" in settings.model_fields_set:
        told = f"{DATABASE_VARIABLE}={shown}"
    else:
        told = f"{DATABASE_VARIABLE} is not set; the default is {shown}"
    if migrate.is_relative(settings.database_url):
        told += f", relative to the current folder {os.getcwd()}"
    return told


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction; a bad name or input is printed, exit code 2."""
    import asyncio

    from offerengine.errors import Invalid, NotFound
    from offerengine.units import run_in_transaction

    settings = database_settings()
    try:
        return asyncio.run(run_in_transaction(settings, work))
    except (Invalid, NotFound) as exc:
        err().print(str(exc))
        raise typer.Exit(2) from exc


async def with_engine(settings: Settings, work: Any) -> Any:
    """Await ``work(session_factory, engine)`` on an engine of its own, disposed of afterwards."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from offerengine.db.engine import create_engine

    engine = create_engine(settings.database_url, pool_size=2)
    try:
        return await work(async_sessionmaker(engine, expire_on_commit=False), engine)
    finally:
        await engine.dispose()
