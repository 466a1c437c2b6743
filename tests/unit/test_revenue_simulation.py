"""The booking simulator: EMSR-b limits learnt from a censored history earn more than first come,
first served on a route whose cheap demand comes early; runs are reproducible; scenarios are
checked."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from offerengine.cli import app as cli
from offerengine.cli._common import console
from offerengine.revenue.core import simulation as sim
from offerengine.revenue.schemas import ScenarioIn


def test_emsr_b_earns_more_than_first_come_first_served_on_the_demo_route() -> None:
    outcomes = sim.simulate(sim.DEMO, departures=60, history=60, seed=5)
    fcfs, emsr = outcomes["fcfs"], outcomes["emsr-b"]
    assert emsr.revenue > fcfs.revenue * 1.05
    # First come, first served fills the cabin with early cheap fares; the limits keep seats for
    # the late, dearer ones.
    assert fcfs.sold_by_class["PROMO"] > emsr.sold_by_class["PROMO"]
    assert emsr.sold_by_class["STANDARD"] > fcfs.sold_by_class["STANDARD"]
    for outcome in outcomes.values():
        assert outcome.departures == 60
        assert 0 < outcome.load_factor <= 1
        assert sum(outcome.sold_by_class.values()) == pytest.approx(
            outcome.load_factor * sim.DEMO.capacity
        )


def test_learned_prices_on_top_of_emsr_b_earn_more_on_the_demo_route() -> None:
    compared = sim.compare(sim.DEMO, departures=60, history=60, seed=5)
    emsr, priced = compared.outcomes["emsr-b"], compared.outcomes["emsr-b+prices"]
    assert priced.revenue > emsr.revenue
    assert priced.load_factor > 0.95
    # It served other points than the rules' price, and never a step above the maximum.
    assert sum(compared.points_served.values()) == pytest.approx(1)
    assert compared.points_served.get("1", 0) < 1
    assert set(compared.points_served) <= {"0.9", "1", "1.1", "1.2", "1.3"}
    report = compared.prices
    assert report.logged > 60
    assert report.learned.low <= report.learned.value <= report.learned.high
    assert report.rules.low <= report.rules.value <= report.rules.high


def test_the_price_points_never_step_more_than_allowed() -> None:
    rng = np.random.default_rng(3)
    history = [sim._customers(sim.DEMO, rng) for _ in range(20)]
    model = sim.fc.fit(sim._history(sim.DEMO, history))
    pricing = sim._Pricing(sim.DEMO_POINTS, len(sim.DEMO.edges), np.random.default_rng(4))
    for i, customers in enumerate(history):
        sales = sim._emsr(sim.DEMO, model, i, customers, pricing)
        by_period: dict[int, float] = {}
        for period, _, point in sales:
            assert by_period.setdefault(period, point) == point  # one point a period
    steps = [
        abs(a.served - b.served)
        for a, b in zip(pricing.logs, pricing.logs[1:], strict=False)
        if b.x.index(1.0) == a.x.index(1.0) + 1
    ]
    assert steps
    assert max(steps) <= sim.DEMO_POINTS.max_step


def test_the_same_seed_gives_the_same_figures() -> None:
    first = sim.simulate(sim.DEMO, departures=10, history=20, seed=9)
    again = sim.simulate(sim.DEMO, departures=10, history=20, seed=9)
    other = sim.simulate(sim.DEMO, departures=10, history=20, seed=10)
    assert first == again
    assert first["fcfs"].revenue != other["fcfs"].revenue


def test_the_history_marks_classes_closed_once_the_cabin_is_full() -> None:
    rng = np.random.default_rng(1)
    past = [sim._customers(sim.DEMO, rng) for _ in range(30)]
    history = sim._history(sim.DEMO, past)
    full = history.bookings.sum(axis=(1, 2)) == sim.DEMO.capacity
    assert full.any()
    assert history.closed[full].any(axis=(1, 2)).all()
    assert not history.closed[~full].any()


def test_fences_and_advance_purchase_hold() -> None:
    # Business customers never buy PROMO; nobody buys PROMO inside 21 days.
    scenario = sim.Scenario(
        capacity=500,
        fares=(sim.Fare("FLEX", Decimal("400")), sim.Fare("PROMO", Decimal("50"), advance=21)),
        edges=(60, 21, 0),
        segments=(sim.Segment("business", (5, 5, 5), 1_000, 0.1, ("FLEX",)),),
    )
    out = sim.simulate(scenario, departures=20, history=10, seed=1)["fcfs"]
    assert out.sold_by_class["PROMO"] == 0
    assert out.sold_by_class["FLEX"] > 0


def test_scenarios_are_checked() -> None:
    good = {
        "capacity": 100,
        "fares": [{"code": "Y", "fare": "300"}, {"code": "Q", "fare": "90", "advance": 14}],
        "edges": [60, 14, 0],
        "segments": [{"name": "all", "arrivals": [30, 30, 20], "median_wtp": 150, "spread": 0.5}],
    }
    assert ScenarioIn.model_validate(good).scenario().capacity == 100
    for change in (
        {"edges": [0, 14, 60]},
        {"fares": [{"code": "Y", "fare": "300"}, {"code": "Y", "fare": "90"}]},
        {"segments": [{"name": "s", "arrivals": [1], "median_wtp": 1, "spread": 0}]},
        {
            "segments": [
                {"name": "s", "arrivals": [1, 1, 1], "median_wtp": 1, "spread": 0, "accepts": ["Z"]}
            ]
        },
        {"capacity": 0},
    ):
        with pytest.raises(ValidationError):
            ScenarioIn.model_validate({**good, **change})


def test_the_command_prints_every_policy_and_draws_the_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI's console is made once per process, at the width of the first command run in it;
    # this table needs 160 columns whichever test ran first.
    monkeypatch.setattr(console(), "width", 160)
    runner = CliRunner()
    picture = tmp_path / "compare.svg"
    shown = runner.invoke(
        cli,
        ["simulate-bookings", "--departures", "20", "--history", "20", "--plot", str(picture)],
        env={"COLUMNS": "160"},
    )
    assert shown.exit_code == 0, shown.output
    assert "fcfs" in shown.output
    assert "emsr-b" in shown.output
    assert "emsr-b+prices" in shown.output
    assert "Learned prices, off-policy" in shown.output
    svg = picture.read_text()
    assert svg.startswith("<?xml")
    assert "<svg" in svg
    assert "emsr-b+prices" in svg
    png = tmp_path / "compare.png"
    drawn = runner.invoke(
        cli, ["simulate-bookings", "--departures", "5", "--history", "5", "--plot", str(png)]
    )
    assert drawn.exit_code == 0, drawn.output
    assert png.read_bytes().startswith(b"\x89PNG")
    wrong = runner.invoke(cli, ["simulate-bookings", "--plot", str(tmp_path / "x.gif")])
    assert wrong.exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"capacity": 0}))
    refused = runner.invoke(cli, ["simulate-bookings", "--scenario", str(bad)])
    assert refused.exit_code == 2
