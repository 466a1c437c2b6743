"""Revenue management's charts (Chart.js configurations, drawn by ``admin.js`` like the
dashboard's): a cabin's booking curve with the forecast band at departure, its fare families'
booking limits and protections, and the booking simulator's comparison of policies."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from offerengine.revenue.core.simulation import Outcome
from offerengine.web.dashboards import PALETTE


def booking_curve(cabin: Mapping[str, Any]) -> dict[str, Any]:
    """Seats booked so far, cumulated over the booking periods (days before departure), per
    family; and, with a forecast, the seats expected at departure (booked + the demand still to
    come) with a band of ± one standard deviation, drawn from the last period booked to 0."""
    periods: Sequence[Mapping[str, Any]] = cabin["booking_curve"]
    labels = [str(p["days_before"]) for p in periods]
    forecast = cabin.get("forecast")
    if not labels or labels[-1] != "0":
        labels.append("0")
    families: list[str] = []
    for p in periods:
        families += [f for f in p["by_family"] if f not in families]
    datasets: list[dict[str, Any]] = []
    running = dict.fromkeys(families, 0)
    series: dict[str, list[float | None]] = {f: [] for f in families}
    for p in periods:
        for f in families:
            running[f] += int(p["by_family"].get(f, 0))
            series[f].append(running[f])
    for i, f in enumerate(families):
        datasets.append(
            {
                "label": f"{f} booked",
                "data": series[f],
                "borderColor": PALETTE[i % len(PALETTE)],
                "backgroundColor": PALETTE[i % len(PALETTE)] + "55",
                "fill": "stack" if i else "origin",
                "stack": "booked",
                "tension": 0.2,
            }
        )
    if forecast is not None:
        booked = float(cabin["booked"])
        mean = sum(float(f["demand_mean"]) for f in forecast["families"])
        sd = math.sqrt(sum(float(f["demand_sd"]) ** 2 for f in forecast["families"]))
        last = len(periods) - 1 if periods else 0
        capacity = float(cabin["capacity"])

        def ramp(end: float) -> list[float | None]:
            points: list[float | None] = [None] * len(labels)
            points[last] = booked
            points[-1] = min(end, capacity) if end > booked else booked
            return points

        grey = "#64748b"
        datasets += [
            {
                "label": "forecast - 1 sd",
                "data": ramp(booked + max(mean - sd, 0.0)),
                "borderColor": grey + "66",
                "pointRadius": 0,
                "borderDash": [4, 4],
                "spanGaps": True,
            },
            {
                "label": "forecast + 1 sd",
                "data": ramp(booked + mean + sd),
                "borderColor": grey + "66",
                "backgroundColor": grey + "33",
                "pointRadius": 0,
                "borderDash": [4, 4],
                "fill": "-1",
                "spanGaps": True,
            },
            {
                "label": "forecast at departure",
                "data": ramp(booked + mean),
                "borderColor": grey,
                "spanGaps": True,
            },
            {
                "label": "capacity",
                "data": [capacity] * len(labels),
                "borderColor": "#dc2626",
                "pointRadius": 0,
                "borderWidth": 1,
            },
        ]
    return {
        "type": "line",
        "data": {"labels": labels, "datasets": datasets},
        "options": {
            "scales": {
                "x": {"title": {"display": True, "text": "days before departure"}},
                "y": {
                    "beginAtZero": True,
                    "ticks": {"precision": 0},
                    "title": {"display": True, "text": "seats"},
                },
            },
        },
    }


def limits(cabin: Mapping[str, Any]) -> dict[str, Any]:
    """Per fare family, highest first: seats booked, the demand still to come, the seats
    protected for the families above, and how many more it may sell (its nested limit)."""
    families = (cabin.get("forecast") or {}).get("families") or []
    labels = [f["code"] for f in families]
    rows = (
        ("booked", "booked", PALETTE[0]),
        ("demand to come", "demand_mean", PALETTE[2]),
        ("protected above", "protection", PALETTE[4]),
        ("booking limit", "booking_limit", PALETTE[1]),
    )
    return {
        "type": "bar",
        "data": {
            "labels": labels,
            "datasets": [
                {
                    "label": label,
                    "data": [round(float(f[name]), 1) for f in families],
                    "backgroundColor": colour,
                }
                for label, name, colour in rows
            ],
        },
        "options": {
            "scales": {"y": {"beginAtZero": True, "title": {"display": True, "text": "seats"}}}
        },
    }


def comparison(outcomes: Mapping[str, Outcome]) -> dict[str, Any]:
    """Revenue per departure (left axis) and load factor (right axis) per booking policy."""
    names = list(outcomes)
    return {
        "type": "bar",
        "data": {
            "labels": names,
            "datasets": [
                {
                    "label": "revenue per departure",
                    "data": [round(outcomes[n].revenue, 2) for n in names],
                    "backgroundColor": PALETTE[0],
                    "yAxisID": "y",
                },
                {
                    "label": "load factor (%)",
                    "data": [round(outcomes[n].load_factor * 100, 1) for n in names],
                    "backgroundColor": PALETTE[1],
                    "yAxisID": "load",
                },
            ],
        },
        "options": {
            "scales": {
                "y": {"beginAtZero": True, "title": {"display": True, "text": "revenue"}},
                "load": {
                    "position": "right",
                    "min": 0,
                    "max": 100,
                    "grid": {"drawOnChartArea": False},
                    "title": {"display": True, "text": "load factor (%)"},
                },
            }
        },
    }
