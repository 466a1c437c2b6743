"""Revenue management offline: ``simulate-bookings`` (what first come, first served and EMSR-b
limits earn on one route, side by side)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

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
) -> None:
    """Simulate customers booking one route under each control policy (the same customers for
    each) and print revenue and load factor per departure, side by side."""
    from offerengine.revenue.core import simulation
    from offerengine.revenue.schemas import ScenarioIn

    chosen = simulation.DEMO
    if scenario is not None:
        try:
            chosen = ScenarioIn.model_validate(json.loads(scenario.read_text())).scenario()
        except (ValidationError, ValueError) as exc:
            err.print(f"{scenario}: {exc}")
            raise typer.Exit(2) from exc
    with console.status(f"Simulating {departures:,} departures per policy …"):
        outcomes = simulation.simulate(chosen, departures=departures, history=history, seed=seed)
    codes = [f.code for f in chosen.classes]
    table = Table(title=f"{departures:,} departures, {chosen.capacity} seats, seed {seed}")
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
    console.print(table)
