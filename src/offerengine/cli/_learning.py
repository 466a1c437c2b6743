"""The contextual bandits offline: ``train`` (a training round now), ``export-logs`` (the logged
decisions as JSON Lines) and ``evaluate-policy`` (what other policies would have earned on
them)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from offerengine.cli._common import console, database_settings, err, in_transaction, with_engine

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def train(tenant: Annotated[str, typer.Option(help="Tenant code or id.")]) -> None:
    """Train the tenant's contextual bandits now.

    On every decision whose reward window has closed (workers also do this every
    OFFERENGINE_LEARNING_TRAIN_SECONDS)."""
    from rich.table import Table

    from offerengine.errors import Invalid, NotFound
    from offerengine.learning import offline
    from offerengine.learning.policy import SHOP

    async def work(session_factory: Any, engine: Any) -> Any:
        return await offline.train_until_done(
            session_factory, tenant, engine.dialect.name == "sqlite"
        )

    settings = database_settings()
    try:
        rounds = asyncio.run(with_engine(settings, work))
    except (Invalid, NotFound) as exc:
        err().print(str(exc))
        raise typer.Exit(2) from exc
    table = Table("activity", "line", "version", "learnt now", "new version")
    for r in rounds:
        name = "shop" if r.activity_id == SHOP else str(r.activity_id)
        table.add_row(name, r.line, str(r.version), str(r.learnt), str(r.started))
    console().print(table if rounds else "No contextual bandits to train.")


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
    """Write an activity's logged decisions (JSON Lines).

    The decisions whose reward window has closed: per proposal the candidates, propensity,
    features and reward (what evaluate-policy --logs reads)."""
    from offerengine.learning import offline

    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)

    async def work(session: AsyncSession) -> int:
        return await offline.export_logs(session, tenant, activity, out, since)

    n = in_transaction(work)
    err().print(f"{n} logged proposals written to {out}")


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
    """Estimate what other policies would have earned.

    What each policy would have earned per decision on the logged decisions (IPS, SNIPS,
    direct method, doubly robust, with 95% intervals) beside what the logged policy earned."""
    from offerengine.learning import evaluate, offline

    if interval not in ("normal", "bootstrap"):
        err().print("--interval is normal or bootstrap")
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return await offline.evaluate_policies(session, tenant, activity, logs, policy, interval)

    results = in_transaction(work)
    for result in results:
        console().print(evaluate.table(result), highlight=False)
        console().print()
