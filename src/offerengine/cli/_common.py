"""What every command shares: the consoles, the actor the audit trail names, the settings, and
running a piece of work in one transaction (a bad name or input printed, exit code 2)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor, ActorKind
from offerengine.errors import Invalid, NotFound
from offerengine.settings import Settings
from offerengine.units import run_in_transaction

console = Console()
err = Console(stderr=True)
CLI_ACTOR = Actor(ActorKind.CLI, None, "offerengine cli")
T = TypeVar("T")


def load_settings() -> Settings:
    """The settings from the OFFERENGINE_* variables, read when a command runs."""
    return Settings()


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction; a bad name or input is printed, exit code 2."""
    try:
        return asyncio.run(run_in_transaction(load_settings(), work))
    except (Invalid, NotFound) as exc:
        err.print(str(exc))
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
