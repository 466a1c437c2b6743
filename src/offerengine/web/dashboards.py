"""The dashboards' figures, read as aggregates from what run time recorded, and shaped as Chart.js
configurations (the page draws them with Chart.js; nothing here draws)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.db.base import utcnow
from offerengine.decisioning.models import Decision, DecisioningObject, DecisionStat
from offerengine.inventory.models import Flight, InventoryBucket
from offerengine.orders.models import Order
from offerengine.shopping.models import OfferDay, OfferStat

PALETTE = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d"]


@dataclass
class Dashboard:
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    totals: dict[str, str] = field(default_factory=dict)


def _days(days: int, today: date) -> list[date]:
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def _day(value: datetime | str | date) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _line(labels: list[str], series: dict[str, list[float]], *, y: str) -> dict[str, Any]:
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
        "options": {"scales": {"y": {"beginAtZero": True, "title": {"display": True, "text": y}}}},
    }


def _bar(labels: list[str], series: dict[str, list[float]], *, y: str) -> dict[str, Any]:
    chart = _line(labels, series, y=y)
    chart["type"] = "bar"
    return chart


async def offer_performance(
    session: AsyncSession, tenant_id: uuid.UUID, currency: str, days: int = 14
) -> Dashboard:
    """Offers shown and ordered per day, conversion and revenue by offer type."""
    today = utcnow().date()
    span = _days(days, today)
    since = datetime.combine(span[0], datetime.min.time()).replace(tzinfo=utcnow().tzinfo)
    labels = [d.isoformat() for d in span]
    index = {d: i for i, d in enumerate(span)}
    shown: dict[str, list[float]] = defaultdict(lambda: [0.0] * days)
    for offer_type, day, count in await session.execute(
        sa.select(OfferDay.offer_type, OfferDay.day, OfferDay.shown).where(
            OfferDay.tenant_id == tenant_id, OfferDay.day >= span[0]
        )
    ):
        if _day(day) in index:
            shown[offer_type][index[_day(day)]] += count
    ordered: dict[str, list[float]] = defaultdict(lambda: [0.0] * days)
    revenue: dict[str, int] = defaultdict(int)
    order_day = sa.func.date(Order.created_at)
    for offer_type, day, count, total in await session.execute(
        sa.select(Order.offer_type, order_day, sa.func.count(), sa.func.sum(Order.total_minor))
        .where(
            Order.tenant_id == tenant_id,
            Order.created_at >= since,
            Order.status.in_(("HELD", "CONFIRMED")),
        )
        .group_by(Order.offer_type, order_day)
    ):
        if _day(day) in index:
            ordered[offer_type][index[_day(day)]] += count
            revenue[offer_type] += int(total or 0)
    # Conversion over all time, from the counters the ranking learns from.
    stats = (
        await session.execute(
            sa.select(
                OfferStat.offer_type, sa.func.sum(OfferStat.shown), sa.func.sum(OfferStat.ordered)
            )
            .where(OfferStat.tenant_id == tenant_id)
            .group_by(OfferStat.offer_type)
        )
    ).all()
    board = Dashboard()
    board.charts["offers_shown"] = _line(labels, dict(shown), y="offers shown")
    board.charts["orders"] = _bar(labels, dict(ordered), y="orders")
    types = sorted({t for t, _, _ in stats} | set(revenue))
    conversion = {t: (int(o or 0) / int(s) if s else 0.0) for t, s, o in stats}
    board.charts["conversion"] = _bar(
        types, {"conversion rate": [round(conversion.get(t, 0.0) * 100, 2) for t in types]}, y="%"
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
            "shown": int(s or 0),
            "ordered": int(o or 0),
            "conversion": f"{(int(o or 0) / int(s) * 100 if s else 0):.2f} %",
        }
        for t, s, o in stats
    ]
    board.totals["offers"] = str(int(sum(sum(v) for v in shown.values())))
    board.totals["orders"] = str(int(sum(sum(v) for v in ordered.values())))
    board.totals["revenue"] = money.show(
        money.from_minor(sum(revenue.values()), currency), currency
    )
    return board


async def decisioning(session: AsyncSession, tenant_id: uuid.UUID, days: int = 14) -> Dashboard:
    """Decisions per day, and impressions, click and accept rates per offer and placement."""
    today = utcnow().date()
    span = _days(days, today)
    since = datetime.combine(span[0], datetime.min.time()).replace(tzinfo=utcnow().tzinfo)
    index = {d: i for i, d in enumerate(span)}
    per_day = [0.0] * days
    day_col = sa.func.date(Decision.made_at)
    for day, count in await session.execute(
        sa.select(day_col, sa.func.count())
        .where(Decision.tenant_id == tenant_id, Decision.made_at >= since)
        .group_by(day_col)
    ):
        if _day(day) in index:
            per_day[index[_day(day)]] += count
    names: dict[uuid.UUID, str] = dict(
        (
            await session.execute(
                sa.select(DecisioningObject.id, DecisioningObject.name).where(
                    DecisioningObject.tenant_id == tenant_id
                )
            )
        ).all()
    )
    rows: list[dict[str, Any]] = []
    for offer_id, placement_id, impressions, clicks, accepts in await session.execute(
        sa.select(
            DecisionStat.offer_id,
            DecisionStat.placement_id,
            DecisionStat.impressions,
            DecisionStat.clicks,
            DecisionStat.accepts,
        ).where(DecisionStat.tenant_id == tenant_id)
    ):
        placement_key = _uuid(placement_id)
        placement = names.get(placement_key, str(placement_id)) if placement_key else placement_id
        rows.append(
            {
                "offer": names.get(offer_id, str(offer_id)),
                "placement": placement,
                "impressions": int(impressions),
                "clicks": int(clicks),
                "accepts": int(accepts),
                "click_rate": round(int(clicks) / int(impressions) * 100, 2)
                if impressions
                else 0.0,
                "accept_rate": round(int(accepts) / int(impressions) * 100, 2)
                if impressions
                else 0.0,
            }
        )
    rows.sort(key=lambda r: (-r["impressions"], r["offer"]))
    board = Dashboard()
    board.charts["decisions"] = _line(
        [d.isoformat() for d in span], {"decisions": per_day}, y="decisions"
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


async def inventory(session: AsyncSession, tenant_id: uuid.UUID, days: int = 7) -> Dashboard:
    """Load factor of the coming flights (seats sold + held over the cabins' seats; a flight
    nobody has shopped yet has no counters and a load of 0), and their cabins' counters."""
    today = utcnow().date()
    flights = (
        await session.scalars(
            sa.select(Flight)
            .where(
                Flight.tenant_id == tenant_id,
                Flight.departure_date >= today,
                Flight.departure_date < today + timedelta(days=days),
            )
            .order_by(Flight.departure_at, Flight.flight_number)
            .limit(30)
        )
    ).all()
    used: dict[uuid.UUID, tuple[int, int]] = {}
    if flights:
        for flight_id, sold, held in await session.execute(
            sa.select(
                InventoryBucket.flight_id,
                sa.func.sum(InventoryBucket.sold),
                sa.func.sum(InventoryBucket.held),
            )
            .where(
                InventoryBucket.tenant_id == tenant_id,
                InventoryBucket.resource_type == "SEAT",
                InventoryBucket.flight_id.in_([f.id for f in flights]),
            )
            .group_by(InventoryBucket.flight_id)
        ):
            if flight_id is not None:
                used[flight_id] = (int(sold or 0), int(held or 0))
    board = Dashboard()
    labels: list[str] = []
    loads: list[float] = []
    for flight in flights:
        capacity = sum(int(seats) for seats in flight.cabins.values())
        sold, held = used.get(flight.id, (0, 0))
        load = (sold + held) / capacity * 100 if capacity else 0.0
        label = (
            f"{flight.carrier}{flight.flight_number} {flight.origin}-{flight.destination} "
            f"{flight.departure_local[:16].replace('T', ' ')}"
        )
        labels.append(label)
        loads.append(round(load, 1))
        board.tables.setdefault("flights", []).append(
            {
                "flight": label,
                "capacity": capacity,
                "sold": sold,
                "held": held,
                "load": f"{load:.1f} %",
            }
        )
    board.charts["load_factor"] = _bar(labels, {"load factor %": loads}, y="%")
    board.tables["low_stock"] = [
        {
            "resource": f"{kind} {resource}",
            "scope": scope,
            "left": int(capacity) - int(sold) - int(held),
            "capacity": int(capacity),
        }
        for kind, resource, scope, capacity, sold, held in await session.execute(
            sa.select(
                InventoryBucket.resource_type,
                InventoryBucket.resource,
                InventoryBucket.scope,
                InventoryBucket.capacity,
                InventoryBucket.sold,
                InventoryBucket.held,
            )
            .where(InventoryBucket.tenant_id == tenant_id, InventoryBucket.low_notified.is_(True))
            .limit(50)
        )
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


def commission_charts(
    by_day: dict[str, Any] | None,
    by_category: dict[str, Any] | None,
    by_seller: dict[str, Any] | None,
) -> Dashboard:
    """Commission of stored quotes by day (stacked by component), by category and by seller,
    from the API's commission report."""
    board = Dashboard()

    def rows(report: dict[str, Any] | None) -> list[dict[str, Any]]:
        return list(report.get("quoted", [])) if report else []

    days = rows(by_day)
    labels = [str(r["key"]) for r in days]
    chart = _bar(
        labels,
        {
            name.replace("_", " "): [float(r["measures"].get(name, 0)) for r in days]
            for name in COMPONENTS
        },
        y="commission",
    )
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
    board.totals["quotes"] = str(sum(int(r["quotes"]) for r in days))
    return board
