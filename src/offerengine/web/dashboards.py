"""The dashboards' figures shaped as tables, totals and Chart.js configurations, from the aggregates of
what run time recorded (read by :mod:`offerengine.decisioning.figures` and :mod:`offerengine.shopping.figures` and
:mod:`offerengine.inventory.overview`) and from the API's reports. Nothing here reads or draws:
the page draws them with Chart.js."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from offerengine import money
from offerengine.commerce import figures as commerce_figures
from offerengine.decisioning import figures as decisioning_figures
from offerengine.inventory import overview
from offerengine.shopping import figures as shopping_figures

PALETTE = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d"]


@dataclass
class Dashboard:
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    totals: dict[str, str] = field(default_factory=dict)


PRESETS = (7, 30, 90)  # the date-range picker's presets, in days up to today
DEFAULT_DAYS = 30
MAX_DAYS = 366  # the longest range a dashboard reads: a year, day by day


class BadRange(ValueError):
    """A date range the dashboard cannot show: ``field`` is the query parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Span:
    """The days a dashboard shows, ``first`` to ``last`` included; ``preset`` when they are the
    last 7, 30 or 90 days up to today."""

    first: date
    last: date
    preset: int | None = None

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def __len__(self) -> int:
        return (self.last - self.first).days + 1

    def query(self) -> str:
        """The span as the dashboard's URL query (to share it)."""
        if self.preset is not None:
            return f"days={self.preset}"
        return f"from={self.first.isoformat()}&to={self.last.isoformat()}"


def _parse_day(field: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadRange(
            field, f"{field} must be a date like 2026-12-01, not {text[:40]!r}"
        ) from None


def choose_span(query: Mapping[str, str], today: date) -> Span:
    """The span a dashboard URL asks for: ``from``/``to`` (ISO dates, both included; a missing
    ``to`` is today, a missing ``from`` the 30 days up to ``to``), else ``days`` (a preset:
    7, 30 or 90 days up to ``today``), else the last 30 days. :class:`BadRange` names what is wrong."""
    first_text, last_text = query.get("from") or "", query.get("to") or ""
    if first_text or last_text:
        last = _parse_day("to", last_text) if last_text else today
        first = (
            _parse_day("from", first_text)
            if first_text
            else last - timedelta(days=DEFAULT_DAYS - 1)
        )
        if first > last:
            raise BadRange("from", f"from ({first}) must be on or before to ({last})")
        if last > today:
            raise BadRange("to", f"to ({last}) is after today ({today}): nothing is recorded yet")
        if (last - first).days + 1 > MAX_DAYS:
            raise BadRange("from", f"a range spans at most {MAX_DAYS} days")
        return Span(first, last)
    days_text = (query.get("days") or "").strip()
    if not days_text:
        days = DEFAULT_DAYS
    elif days_text in {str(p) for p in PRESETS}:
        days = int(days_text)
    else:
        shown = ", ".join(str(p) for p in PRESETS)
        raise BadRange("days", f"days must be one of {shown}, or pick from and to dates")
    return Span(today - timedelta(days=days - 1), today, days)


def last_days(days: int, zone: tzinfo = UTC) -> list[date]:
    """The last ``days`` days (of ``zone``'s calendar), today last."""
    today = datetime.now(zone).date()
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def _day(value: datetime | str | date) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def has_data(chart: dict[str, Any]) -> bool:
    """Whether a chart has anything to draw: a value other than zero in any of its series (an
    all-zero chart is an empty state, which says what to do, instead)."""

    def drawn(value: Any) -> bool:
        if isinstance(value, list):
            return any(drawn(v) for v in value)
        return isinstance(value, (int, float)) and value != 0

    return any(drawn(d.get("data")) for d in chart.get("data", {}).get("datasets", []))


def _line(
    labels: list[str], series: dict[str, list[float]], *, y: str, whole: bool = False
) -> dict[str, Any]:
    """A line chart of ``series`` over ``labels``: its y axis titled ``y``, ticked in whole
    numbers when it counts (``whole``: no "0.1 orders"), and a legend only when there is more
    than one series to tell apart (the caption names a single one)."""
    y_axis: dict[str, Any] = {"beginAtZero": True, "title": {"display": True, "text": y}}
    if whole:
        y_axis["ticks"] = {"precision": 0}
    return {
        "type": "line",
        "data": {
            "labels": labels,
            "datasets": [
                {
                    "label": name,
                    "data": values,
                    "borderColor": PALETTE[i % len(PALETTE)],
                    "backgroundColor": PALETTE[i % len(PALETTE)],
                    "tension": 0.2,
                }
                for i, (name, values) in enumerate(sorted(series.items()))
            ],
        },
        "options": {
            "scales": {"y": y_axis},
            "plugins": {"legend": {"display": len(series) > 1}},
        },
    }


def _bar(
    labels: list[str], series: dict[str, list[float]], *, y: str, whole: bool = False
) -> dict[str, Any]:
    chart = _line(labels, series, y=y, whole=whole)
    chart["type"] = "bar"
    return chart


def offer_performance(
    figures: shopping_figures.OfferFigures, span: list[date], currency: str
) -> Dashboard:
    """Offers shown and ordered per day of ``span``, and by offer type over it: conversion
    (ordered over shown) and revenue."""
    labels = [d.isoformat() for d in span]
    index = {d: i for i, d in enumerate(span)}
    shown: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(span))
    for offer_type, day, count in figures.shown:
        if _day(day) in index:
            shown[offer_type][index[_day(day)]] += int(count)
    ordered: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(span))
    revenue: dict[str, int] = defaultdict(int)
    for offer_type, day, count, total in figures.ordered:
        if _day(day) in index:
            ordered[offer_type][index[_day(day)]] += int(count)
            revenue[offer_type] += int(total or 0)
    # Conversion in the range: orders made from offers over offers shown, by offer type.
    shown_by_type = {t: int(sum(v)) for t, v in shown.items()}
    ordered_by_type = {t: int(sum(v)) for t, v in ordered.items()}
    types = sorted(set(shown_by_type) | set(ordered_by_type) | set(revenue))
    board = Dashboard()
    board.charts["offers_shown"] = _line(labels, dict(shown), y="offers shown", whole=True)
    board.charts["orders"] = _bar(labels, dict(ordered), y="orders", whole=True)
    board.charts["conversion"] = _bar(
        types,
        {
            "conversion rate": [
                _rate(ordered_by_type.get(t, 0), shown_by_type.get(t, 0)) for t in types
            ]
        },
        y="% of offers shown that were ordered",
    )
    board.charts["revenue"] = _bar(
        types,
        {
            f"revenue ({currency})": [
                float(money.from_minor(revenue.get(t, 0), currency)) for t in types
            ]
        },
        y=currency,
    )
    board.tables["offer_types"] = [
        {
            "offer_type": t,
            "shown": shown_by_type.get(t, 0),
            "ordered": ordered_by_type.get(t, 0),
            "conversion": f"{_rate(ordered_by_type.get(t, 0), shown_by_type.get(t, 0)):.2f} %",
            "revenue": money.show(money.from_minor(revenue.get(t, 0), currency), currency),
        }
        for t in types
    ]
    shown_total, ordered_total = sum(shown_by_type.values()), sum(ordered_by_type.values())
    board.totals["offers"] = str(shown_total)
    board.totals["orders"] = str(ordered_total)
    board.totals["revenue"] = money.show(
        money.from_minor(sum(revenue.values()), currency), currency
    )
    board.totals["conversion"] = (
        f"{ordered_total / shown_total * 100:.1f} %" if shown_total else "–"
    )
    return board


def _rate(part: int, whole: int) -> float:
    return round(int(part) / int(whole) * 100, 2) if whole else 0.0


def decisioning(figures: decisioning_figures.DecisionFigures, span: list[date]) -> Dashboard:
    """Decisions per day of ``span``, and impressions, click and accept rates per offer and
    placement."""
    index = {d: i for i, d in enumerate(span)}
    per_day = [0.0] * len(span)
    for day, count in figures.per_day:
        if _day(day) in index:
            per_day[index[_day(day)]] += count
    names = figures.names
    rows: list[dict[str, Any]] = []
    for offer_id, placement_id, impressions, clicks, accepts in figures.stats:
        placement_key = _uuid(placement_id)
        placement = names.get(placement_key, str(placement_id)) if placement_key else placement_id
        rows.append(
            {
                "offer": names.get(offer_id, str(offer_id)),
                "placement": placement,
                "impressions": int(impressions),
                "clicks": int(clicks),
                "accepts": int(accepts),
                "click_rate": _rate(clicks, impressions),
                "accept_rate": _rate(accepts, impressions),
            }
        )
    rows.sort(key=lambda r: (-r["impressions"], r["offer"]))
    board = Dashboard()
    board.charts["decisions"] = _line(
        [d.isoformat() for d in span], {"decisions": per_day}, y="decisions", whole=True
    )
    top = rows[:12]
    board.charts["rates"] = _bar(
        [f"{r['offer']} @ {r['placement']}" for r in top],
        {
            "click rate %": [r["click_rate"] for r in top],
            "accept rate %": [r["accept_rate"] for r in top],
        },
        y="%",
    )
    board.tables["offers"] = rows
    board.totals["decisions"] = str(int(sum(per_day)))
    return board


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def cap_usage(usage: list[decisioning_figures.CapUse]) -> list[dict[str, Any]]:
    """Every global cap: used in its current window, out of its limit."""
    rows = []
    for found in usage:
        cap = found.cap
        window = (
            cap.window
            if cap.window == "lifetime"
            else f"{cap.window} {cap.count if cap.rolling else ''} {cap.unit}"
        )
        rows.append(
            {
                "offer": found.offer,
                "event": cap.event,
                "window": " ".join(window.split()),
                "used": found.used,
                "limit": cap.limit,
                "share": round(found.used / cap.limit * 100, 1),
            }
        )
    return rows


def inventory(load: overview.SeatLoad) -> Dashboard:
    """Load factor of the coming flights (seats sold + held over the cabins' seats; a flight
    nobody has shopped yet has no counters and a load of 0), and the low buckets."""
    board = Dashboard()
    labels: list[str] = []
    loads: list[float] = []
    seats = taken = 0
    for flight in load.flights:
        capacity = sum(int(seats) for seats in flight.cabins.values())
        sold, held = load.used.get(flight.id, (0, 0))
        share = (sold + held) / capacity * 100 if capacity else 0.0
        seats, taken = seats + capacity, taken + sold + held
        label = (
            f"{flight.carrier}{flight.flight_number} {flight.origin}-{flight.destination} "
            f"{flight.departure_local[5:16].replace('T', ' ')}"
        )
        labels.append(label)
        loads.append(round(share, 1))
        board.tables.setdefault("flights", []).append(
            {
                "flight": label,
                "capacity": capacity,
                "sold": sold,
                "held": held,
                "load": f"{share:.1f} %",
            }
        )
    board.charts["load_factor"] = _bar(labels, {"load factor %": loads}, y="%")
    board.totals["flights"] = str(len(load.flights))
    board.totals["load_factor"] = f"{taken / seats * 100:.1f} %" if seats else "–"
    board.tables["low_stock"] = [
        {
            "resource": f"{low.resource_type} {low.resource}",
            "scope": low.scope,
            "left": int(low.capacity) - int(low.sold) - int(low.held),
            "capacity": int(low.capacity),
        }
        for low in load.low
    ]
    return board


def lift_chart(results: dict[str, Any]) -> dict[str, Any]:
    """An experiment's primary metric: each variant's relative lift over control (a point) and
    its 95% interval (a floating bar), in percent."""
    comparisons = results.get("primary", {}).get("comparisons", [])
    labels = [c["variant"] for c in comparisons]
    intervals = [
        [round(c["relative_ci"][0] * 100, 2), round(c["relative_ci"][1] * 100, 2)]
        if c.get("relative_ci")
        else None
        for c in comparisons
    ]
    lifts = [
        round(c["relative_lift"] * 100, 2) if c.get("relative_lift") is not None else None
        for c in comparisons
    ]
    return {
        "type": "bar",
        "data": {
            "labels": labels,
            "datasets": [
                {
                    "type": "line",
                    "label": "relative lift %",
                    "data": lifts,
                    "showLine": False,
                    "pointRadius": 6,
                    "borderColor": PALETTE[3],
                    "backgroundColor": PALETTE[3],
                },
                {
                    "label": "95% interval",
                    "data": intervals,
                    "backgroundColor": "rgba(37, 99, 235, 0.35)",
                    "borderColor": PALETTE[0],
                    "borderWidth": 1,
                },
            ],
        },
        "options": {
            "scales": {"y": {"title": {"display": True, "text": f"% vs {results.get('control')}"}}}
        },
    }


COMPONENTS = ("seller_commission", "category_commission", "logistics_commission")


def quotes_and_commission(
    by_day: dict[str, Any] | None,
    by_category: dict[str, Any] | None,
    by_seller: dict[str, Any] | None,
    span: list[date],
) -> Dashboard:
    """Quotes stored and accepted per day of ``span`` and their conversion; commission per day
    (stacked by component), by category and by seller: from the API's commission reports (each
    ``None`` when the API refused)."""
    board = Dashboard()

    def rows(report: dict[str, Any] | None, part: str = "quoted") -> list[dict[str, Any]]:
        return list(report.get(part, [])) if report else []

    labels = [d.isoformat() for d in span]
    index = {d: i for i, d in enumerate(labels)}
    quoted, accepted = [0.0] * len(span), [0.0] * len(span)
    components: dict[str, list[float]] = {
        name.replace("_", " "): [0.0] * len(span) for name in COMPONENTS
    }
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows(by_day):
        day = index.get(str(row["key"]))
        totals[row["currency"]] += Decimal(row["measures"].get("total_commission", "0"))
        if day is None:
            continue
        quoted[day] += int(row["quotes"])
        for name in COMPONENTS:
            components[name.replace("_", " ")][day] += float(row["measures"].get(name, 0))
    for row in rows(by_day, "accepted"):
        day = index.get(str(row["key"]))
        if day is not None:
            accepted[day] += int(row["quotes"])
    board.charts["quotes"] = _bar(
        labels, {"quotes": quoted, "accepted": accepted}, y="quotes", whole=True
    )
    chart = _bar(labels, components, y="commission")
    chart["options"]["scales"]["x"] = {"stacked": True}
    chart["options"]["scales"]["y"]["stacked"] = True
    board.charts["by_day"] = chart
    for name, report in (("by_category", by_category), ("by_seller", by_seller)):
        found = rows(report)
        board.charts[name] = _bar(
            [str(r["key"] or "(none)") for r in found],
            {"commission": [float(r["measures"].get("total_commission", 0)) for r in found]},
            y="commission",
        )
    board.totals["quotes"] = str(int(sum(quoted)))
    board.totals["accepted"] = str(int(sum(accepted)))
    board.totals["conversion"] = (
        f"{sum(accepted) / sum(quoted) * 100:.1f} %" if sum(quoted) else "–"
    )
    board.totals["commission"] = (
        ", ".join(money.show(amount, code) + f" {code}" for code, amount in sorted(totals.items()))
        or "0"
    )
    return board


def coupon_usage(figures: commerce_figures.CouponFigures, span: list[date]) -> Dashboard:
    """The most used coupons (all time), and the accepted quotes that took a discount per day
    of ``span`` (the tenant's days) with what the discounts came to, per currency."""
    board = Dashboard()
    labels = [d.isoformat() for d in span]
    index = {d: i for i, d in enumerate(labels)}
    with_discount = [0.0] * len(span)
    discounts: dict[str, int] = defaultdict(int)
    for day, currency, count, total in figures.discounted:
        if day in index:
            with_discount[index[day]] += count
            discounts[currency] += int(total or 0)
    board.charts["discounted"] = _bar(
        labels, {"accepted quotes with a discount": with_discount}, y="quotes", whole=True
    )
    used = [(code or f"personal {str(coupon_id)[:8]}", n) for coupon_id, code, n in figures.uses]
    board.charts["uses"] = _bar(
        [code for code, _ in used], {"uses": [float(n) for _, n in used]}, y="uses", whole=True
    )
    board.tables["coupons"] = [{"coupon": code, "uses": n} for code, n in used]
    board.totals["discounted"] = str(int(sum(with_discount)))
    board.totals["discount"] = (
        ", ".join(
            money.show(money.from_minor(amount, code), code) + f" {code}"
            for code, amount in sorted(discounts.items())
        )
        or "0"
    )
    return board
