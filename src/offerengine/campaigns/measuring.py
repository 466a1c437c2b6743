"""A campaign's measured uplift: its members' outcomes read from the accepted quotes and the
airline orders, measured by :func:`offerengine.campaigns.core.measure`.

A member **converted** when a quote for them (``customer_id``) in the campaign's currency was
accepted, or an airline order was made from a search for them (the search's ``customer.id``)
in that currency and is not cancelled nor expired, after they joined the campaign and before it
ended (or now, while it runs); their **revenue** is the total of those quotes and orders (what
they paid, after any discount). A grant is **redeemed** when the accepted quote or the order
applied its code (:mod:`offerengine.campaigns.grants`); a cancelled order gives it back.
The treated and held-out arms are the customers the campaign's selection chose; only the treated
were granted, so the difference between the arms is what the grants did.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from offerengine import money
from offerengine.campaigns import core, grants
from offerengine.campaigns.models import Campaign, CampaignGrant, CampaignMember
from offerengine.commerce.models import StoredQuote
from offerengine.orders.models import Order

ORDERED = ("HELD", "CONFIRMED")  # an airline order that was not cancelled nor expired


async def outcomes(
    session: AsyncSession, campaign: Campaign, until: datetime
) -> dict[str, tuple[int, int]]:
    """Per member: accepted quotes and airline orders (not cancelled nor expired), and their
    total (minor units), while in the campaign."""
    found = await _quoted(session, campaign, until)
    for customer, (n, total) in (await _ordered(session, campaign, until)).items():
        had = found.get(customer, (0, 0))
        found[customer] = (had[0] + n, had[1] + total)
    return found


async def _ordered(
    session: AsyncSession, campaign: Campaign, until: datetime
) -> dict[str, tuple[int, int]]:
    """Per member: airline orders made for them (the search's customer) while in the campaign,
    not cancelled nor expired, and their total after any grant."""
    return await _per_member(
        session,
        campaign,
        until,
        Order,
        total=Order.total_minor,
        at=Order.created_at,
        done=Order.status.in_(ORDERED),
    )


async def _quoted(
    session: AsyncSession, campaign: Campaign, until: datetime
) -> dict[str, tuple[int, int]]:
    """Per member: accepted quotes and their total (minor units) while in the campaign."""
    return await _per_member(
        session,
        campaign,
        until,
        StoredQuote,
        total=StoredQuote.total,
        at=StoredQuote.accepted_at,
        done=StoredQuote.status == "ACCEPTED",
    )


async def _per_member(
    session: AsyncSession,
    campaign: Campaign,
    until: datetime,
    model: type[Order] | type[StoredQuote],
    *,
    total: InstrumentedAttribute[Any],
    at: InstrumentedAttribute[Any],
    done: sa.ColumnElement[bool],
) -> dict[str, tuple[int, int]]:
    """Per member: how many rows of ``model`` for them (its ``customer_id``), ``done`` and in
    the campaign's currency, came about (``at``) while they were in the campaign, and the sum
    of their ``total`` (minor units)."""
    rows = await session.execute(
        sa.select(
            CampaignMember.customer_id,
            sa.func.count(model.id),
            sa.func.coalesce(sa.func.sum(total), 0),
        )
        .join(
            model,
            sa.and_(
                model.tenant_id == CampaignMember.tenant_id,
                model.customer_id == CampaignMember.customer_id,
            ),
        )
        .where(
            CampaignMember.tenant_id == campaign.tenant_id,
            CampaignMember.campaign_id == campaign.id,
            done,
            model.currency == campaign.currency,
            at >= CampaignMember.assigned_at,
            at < until,
        )
        .group_by(CampaignMember.customer_id)
    )
    return {customer: (int(n), int(spent)) for customer, n, spent in rows}


def _interval(found: core.Interval, digits: int = 4) -> dict[str, float | None]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, digits)

    return {"estimate": r(found.estimate), "low": r(found.low), "high": r(found.high)}


async def measure(session: AsyncSession, campaign: Campaign, now: datetime) -> dict[str, Any]:
    """The campaign's measurement (see the module docstring), as the admin API shows it."""
    until = min(now, campaign.ends_at)
    members = (
        await session.execute(
            sa.select(
                CampaignMember.customer_id, CampaignMember.arm, CampaignMember.predicted_uplift
            ).where(
                CampaignMember.tenant_id == campaign.tenant_id,
                CampaignMember.campaign_id == campaign.id,
            )
        )
    ).all()
    found_outcomes = await outcomes(session, campaign, until)
    c = campaign.currency
    scale = float(money.unit(c))
    statuses = dict(
        (
            await session.execute(
                sa.select(CampaignGrant.status, sa.func.count())
                .where(
                    CampaignGrant.tenant_id == campaign.tenant_id,
                    CampaignGrant.campaign_id == campaign.id,
                )
                .group_by(CampaignGrant.status)
            )
        ).all()
    )
    used = await grants.budget(session, campaign)
    found = core.measure(
        treated=[arm == core.TREATED for _, arm, _ in members],
        converted=[float(found_outcomes.get(m, (0, 0))[0] > 0) for m, _, _ in members],
        revenue=[found_outcomes.get(m, (0, 0))[1] * scale for m, _, _ in members],
        predicted=[float(p) for _, _, p in members],
        granted=sum(int(n) for n in statuses.values()),
        redeemed=int(statuses.get(grants.REDEEMED, 0)),
        cost=used.spent * scale,
    )
    show = money.from_minor
    return {
        "campaign": campaign.code,
        "currency": c,
        "until": until,
        "members": {"treated": found.treated, "holdout": found.holdout},
        "grants": {
            "granted": found.granted,
            "redeemed": found.redeemed,
            "expired": int(statuses.get(grants.EXPIRED, 0)),
            "open": int(statuses.get(grants.ISSUED, 0)),
            "redemption_rate": None
            if found.redemption_rate is None
            else round(found.redemption_rate, 4),
        },
        "conversion": {
            "treated": round(found.conversion_treated, 4),
            "holdout": round(found.conversion_holdout, 4),
            "incremental": _interval(found.incremental_conversion),
        },
        "revenue_per_member": {
            "treated": round(found.revenue_treated, 2),
            "holdout": round(found.revenue_holdout, 2),
            "incremental": _interval(found.incremental_revenue_per_member, 2),
        },
        "incremental_orders": round(found.incremental_orders, 2),
        "incremental_revenue": round(found.incremental_revenue, 2),
        "budget": {
            "budget": str(show(campaign.budget_minor, c)),
            "reserved": str(show(used.reserved, c)),
            "spent": str(show(used.spent, c)),
        },
        "cost_per_incremental_order": None
        if found.cost_per_incremental_order is None
        else round(found.cost_per_incremental_order, 2),
        "level": core.LEVEL,
        "deciles": [
            {
                **dataclasses.asdict(d),
                "predicted": round(d.predicted, 4),
                "realised": None if d.realised is None else round(d.realised, 4),
            }
            for d in found.deciles
        ],
    }
