"""Revenue management offline: ``simulate-bookings`` (what first come, first served, EMSR-b
limits and EMSR-b with learned prices earn on one route, side by side, with a plot), ``import-bookings`` (a booking history for the
forecasts) and ``forecast`` (every flight yet to leave: demand, limits, bid prices)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from offerengine.cli._common import console, err


def simulate_bookings(
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="A JSON scenario (capacity, fares, edges, segments: see docs/revenue.md); "
            "default: the demonstration route.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    departures: Annotated[
        int, typer.Option(min=1, max=20_000, help="Departures simulated per policy.")
    ] = 200,
    history: Annotated[
        int, typer.Option(min=2, max=20_000, help="Past departures the forecast learns from.")
    ] = 120,
    seed: Annotated[
        int, typer.Option(help="Seeds every draw: the same seed, the same figures.")
    ] = 1,
    plot: Annotated[
        Path | None,
        typer.Option(help="Also draw the comparison into this .png or .svg file.", dir_okay=False),
    ] = None,
) -> None:
    """Compare booking policies on one simulated route.

    Simulates customers booking one route under each control policy (the same customers for
    each): first come, first served, EMSR-b limits, and EMSR-b with learned prices; prints
    revenue and load factor per departure side by side, the learned prices' off-policy
    estimate against the rules' prices, and (``--plot``) draws them."""
    from pydantic import ValidationError
    from rich.table import Table

    from offerengine.revenue.core import simulation
    from offerengine.revenue.schemas import ScenarioIn

    if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
        err().print(f"--plot {plot}: must be a .png or .svg file", highlight=False)
        raise typer.Exit(2)
    chosen = simulation.DEMO
    if scenario is not None:
        try:
            chosen = ScenarioIn.model_validate(json.loads(scenario.read_text())).scenario()
        except (ValidationError, ValueError) as exc:
            err().print(f"{scenario}: {exc}")
            raise typer.Exit(2) from exc
    with console().status(f"Simulating {departures:,} departures per policy …"):
        compared = simulation.compare(chosen, departures=departures, history=history, seed=seed)
    outcomes = compared.outcomes
    codes = [f.code for f in chosen.classes]
    title = f"{departures:,} departures, {chosen.capacity} seats, seed {seed}"
    table = Table(title=title)
    for column in ("policy", "revenue / departure", "± sd", "load factor", *codes):
        table.add_column(column, justify="left" if column == "policy" else "right")
    base = outcomes["fcfs"].revenue
    for outcome in outcomes.values():
        change = f" ({outcome.revenue / base - 1:+.1%})" if outcome.policy != "fcfs" else ""
        table.add_row(
            outcome.policy,
            f"{outcome.revenue:,.0f}{change}",
            f"{outcome.revenue_sd:,.0f}",
            f"{outcome.load_factor:.1%}",
            *(f"{outcome.sold_by_class[c]:.1f}" for c in codes),
        )
    console().print(table)
    learned, rules = compared.prices.learned, compared.prices.rules
    console().print(
        f"Learned prices, off-policy on {compared.prices.logged:,} logged periods (SNIPS, 95 %): "
        f"{learned.value:.4f} [{learned.low:.4f}, {learned.high:.4f}] per customer shown "
        f"against the rules' {rules.value:.4f} [{rules.low:.4f}, {rules.high:.4f}].",
        highlight=False,
    )
    shares = ", ".join(f"x{k} {v:.0%}" for k, v in compared.points_served.items())
    console().print(f"Price points served: {shares}.", highlight=False)
    if plot is not None:
        from offerengine.revenue import plots

        plots.comparison(outcomes, plot, title=title)
        console().print(f"Plot written to {plot}.", highlight=False)


def import_bookings(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV or Parquet: flight, departure_date, origin, destination, cabin, "
            "fare_family, days_before, count and (optional) closed, a row per booking period.",
            exists=True,
            dir_okay=False,
        ),
    ],
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
) -> None:
    """Import a booking history for the forecasts.

    Past departures' bookings per booking period: every row checked (an error names its row
    and column), all stored or none; the same file content twice is imported once."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from offerengine.errors import Invalid
    from offerengine.revenue import history

    async def work(session: AsyncSession) -> history.Imported:
        tenant_id = await _tenant_id(session, tenant)
        return await history.import_file(session, tenant_id=tenant_id, path=file)

    try:
        done = _run(work)
    except Invalid as exc:
        err().print(f"{file.name}: nothing imported.", highlight=False)
        for e in exc.errors:
            err().print("  " + _where(e.loc) + e.msg, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    if done.created:
        console().print(
            f"Imported {done.rows:,} rows ({done.bookings:,} bookings) from {file.name}.",
            highlight=False,
        )
    else:
        console().print(
            f"{file.name} was imported before ({done.rows:,} rows): nothing changed.",
            highlight=False,
        )


def forecast(
    tenant: Annotated[str, typer.Option(help="Tenant code or id.")],
    route: Annotated[
        str | None,
        typer.Option(help="Only this route, ORIGIN-DESTINATION (e.g. JFK-LHR)."),
    ] = None,
) -> None:
    """Forecast every flight yet to leave and set its booking limits.

    Fits each market's (route and cabin) pickup model on the booking history (orders and
    imports), forecasts the demand still to come per fare family, and stores EMSR-b limits,
    protection levels and the bid price per cabin."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from sqlalchemy.ext.asyncio import AsyncSession

    from offerengine.clock import utcnow
    from offerengine.revenue import forecasting

    if route is not None and not re.fullmatch(r"[A-Z]{3}-[A-Z]{3}", route):
        err().print(f"--route {route!r} is not ORIGIN-DESTINATION, e.g. JFK-LHR", highlight=False)
        raise typer.Exit(2)

    from offerengine.cli._common import database_settings

    settings = database_settings()  # before the progress bar: no bar for a missing database
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err()
    ) as bar:
        task = bar.add_task("Markets", total=None)

        def progress(done: int, total: int, market: str) -> None:
            bar.update(task, completed=done, total=total, description=f"Markets {market}")

        async def work(session: AsyncSession) -> forecasting.Run:
            tenant_id = await _tenant_id(session, tenant)
            return await forecasting.run(
                session, tenant_id=tenant_id, now=utcnow(), route=route, progress=progress
            )

        done = _run(work, settings)
    console().print(
        f"Forecast {done.cabins:,} cabins of {done.flights:,} flights in {done.markets:,} markets.",
        highlight=False,
    )
    for why, cabins in sorted(done.skipped.items()):
        console().print(f"Not forecast: {cabins:,} cabins ({why}).", highlight=False)
    if done.left_out:
        left = ", ".join(f"{code} {n:,}" for code, n in sorted(done.left_out.items()))
        console().print(f"Bookings of families no set names, left out: {left}.", highlight=False)


async def _tenant_id(session: Any, ref: str) -> Any:
    from offerengine.errors import NotFound
    from offerengine.tenants import service as tenants

    found = await tenants.find(session, ref)
    if found is None:
        raise NotFound(f"No tenant {ref!r}.")
    return found.id


def _run(work: Any, settings: Any = None) -> Any:
    """``work`` in one transaction; an unknown tenant is printed, exit code 2."""
    import asyncio

    from offerengine.cli._common import database_settings
    from offerengine.errors import NotFound
    from offerengine.units import run_in_transaction

    settings = settings or database_settings()
    try:
        return asyncio.run(run_in_transaction(settings, work))
    except NotFound as exc:
        err().print(str(exc), highlight=False)
        raise typer.Exit(2) from exc


def _where(loc: Any) -> str:
    """ "row 3, column count: " for ("rows", 3, "count")."""
    parts = list(loc)
    if len(parts) == 3 and parts[0] == "rows":
        return f"row {parts[1]}, column {parts[2]}: "
    if len(parts) == 2 and parts[0] == "columns":
        return f"column {parts[1]}: "
    return ""
