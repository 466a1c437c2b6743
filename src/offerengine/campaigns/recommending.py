"""Recommending for a campaign (see :mod:`offerengine.campaigns.service` for the steps): its
audience, the promotions' uplift selection within its budget, the sticky holdout, and the grants
with their reservations. The unit of work (``offerengine.deps.DbSession``) commits."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.campaigns import core, grants
from offerengine.campaigns.models import Campaign, CampaignGrant, CampaignMember
from offerengine.campaigns.schemas import CampaignRecommend
from offerengine.campaigns.service import compile_audience
from offerengine.errors import FieldError, Invalid
from offerengine.profiles import segments as segmenting
from offerengine.profiles.core import SegmentIndex, members, profile_facts
from offerengine.profiles.models import Profile
from offerengine.profiles.service import attributes_of, personalised
from offerengine.promotions import service as promoting
from offerengine.promotions.core import PromotionIndex
from offerengine.promotions.schemas import CustomerIn, RecommendRequest
from offerengine.rules import core as rules


async def _audience(
    session: AsyncSession,
    campaign: Campaign,
    given: Sequence[CustomerIn],
    now: datetime,
) -> tuple[list[CustomerIn], int]:
    """The customers of the campaign's audience, with their given features; how many were not."""
    segment, rule = campaign.audience.get("segment"), campaign.audience.get("rule")
    if segment is None and rule is None:
        return list(given), 0
    compiled = compile_audience(rule) if rule is not None else None
    index = (
        await segmenting.load_index(session, campaign.tenant_id)
        if segment is not None
        else SegmentIndex()
    )
    ids = [c.id for c in given]
    stored: dict[str, Profile] = {}
    for start in range(0, len(ids), 500):
        for kept_row in await session.scalars(
            sa.select(Profile).where(
                Profile.tenant_id == campaign.tenant_id,
                Profile.profile_id.in_(ids[start : start + 500]),
            )
        ):
            stored[kept_row.profile_id] = kept_row
    kept = []
    for customer in given:
        row = stored.get(customer.id)
        facts = (
            profile_facts(attributes_of(row, now)) if row is not None and personalised(row) else {}
        )
        facts.update({f"profile.{k}": v for k, v in customer.features.items()})
        if segment is not None and segment not in members(index, facts):
            continue
        if compiled is not None:
            with rules.rules_context():
                try:
                    if not bool(compiled.evaluate(facts)):
                        continue
                except rules.EvaluationError:
                    continue  # it reads what the profile does not have: not in the audience
        kept.append(customer)
    return kept, len(given) - len(kept)


def running(campaign: Campaign, now: datetime) -> str | None:
    """Why the campaign grants nothing now, or None."""
    if not campaign.is_active:
        return "the campaign is not active"
    if now < campaign.starts_at:
        return f"the campaign starts at {campaign.starts_at.isoformat()}"
    if now >= campaign.ends_at:
        return f"the campaign ended at {campaign.ends_at.isoformat()}"
    return None


def new_code() -> str:
    """A personal coupon code: unguessable, short enough to type (G- and 10 characters)."""
    return "G-" + secrets.token_hex(5).upper()


async def recommend(
    session: AsyncSession, campaign: Campaign, request: CampaignRecommend, now: datetime
) -> dict[str, Any]:
    """Choose, split and grant (see the module docstring); a ``dry_run`` writes nothing."""
    refusal = running(campaign, now)
    if refusal is not None:
        raise Invalid(refusal, [FieldError(("path", "id"), refusal)])
    tenant_id, currency = campaign.tenant_id, campaign.currency
    if not request.dry_run:
        await grants.sweep(session, tenant_id, now)  # what expired gives its reservation back
    given = [CustomerIn(id=c) if isinstance(c, str) else c for c in request.customers]
    ids = [c.id for c in given]
    if len(set(ids)) != len(ids):
        raise Invalid("a customer is named twice", [FieldError(("body", "customers"), "twice")])
    skipped: dict[str, int] = {}
    already = set(
        await session.scalars(
            sa.select(CampaignMember.customer_id).where(
                CampaignMember.tenant_id == tenant_id,
                CampaignMember.campaign_id == campaign.id,
                CampaignMember.customer_id.in_(ids),
            )
        )
    )
    if already:
        skipped["already in the campaign"] = len(already)
    audience, outside = await _audience(
        session, campaign, [c for c in given if c.id not in already], now
    )
    if outside:
        skipped["not in the audience"] = outside
    budget = await grants.budget(session, campaign)
    left = campaign.budget_minor - budget.reserved - budget.spent
    result: dict[str, Any] = {
        "campaign": campaign.code,
        "dry_run": request.dry_run,
        "customers": len(given),
        "treated": [],
        "holdout": [],
        "skipped": skipped,
    }
    if not audience or left <= 0:
        if left <= 0:
            skipped["campaign budget used"] = len(audience)
        result["budget"] = await grants.budget_read(session, campaign)
        return result
    index = await promoting.load_index(session, tenant_id)
    wanted = set(campaign.promotions)
    # A promotion changed to another currency since the campaign was saved is not granted.
    other = {p.code for p in index.promotions if p.code in wanted and p.currency != currency}
    wanted -= other
    index = PromotionIndex(
        tuple(p for p in index.promotions if p.code in wanted),
        {k: v for k, v in index.models.items() if k in wanted},
    )
    share = Decimal(str(campaign.holdout_share))
    allowance = money.quantize(money.from_minor(left, currency) / (1 - share), currency)
    chosen = await promoting.recommend(
        session,
        tenant_id,
        index,
        RecommendRequest(customers=list(audience), budget=allowance, dry_run=True),
        now,
    )
    for reason, n in chosen["skipped"].items():
        skipped[reason] = skipped.get(reason, 0) + n
    result["promotions_not_offered"] = {
        **chosen["promotions_not_offered"],
        **dict.fromkeys(sorted(other), f"not in the campaign's currency {currency}"),
    }
    discounts = {p.code: p.discount for p in index.promotions}
    seed = core.holdout_seed(campaign.id)
    expires_at = min(now + timedelta(days=campaign.grant_days), campaign.ends_at)
    sent = {c.id: dict(c.features) for c in audience if c.features}  # kept for retraining
    for g in chosen["grants"]:
        customer, promotion = g["customer_id"], g["promotion"]
        cost = money.to_minor(Decimal(g["expected_cost"]), currency)
        arm = core.arm_of(seed, customer, campaign.holdout_share)
        shown = {
            "customer_id": customer,
            "promotion": promotion,
            "predicted_uplift": g["uplift"],
            "expected_cost": g["expected_cost"],
        }
        member = CampaignMember(
            tenant_id=tenant_id,
            campaign_id=campaign.id,
            customer_id=customer,
            arm=arm,
            promotion=promotion,
            predicted_uplift=float(g["uplift"]),
            expected_cost_minor=cost,
            assigned_at=now,
            features=sent.get(customer),
        )
        if arm == core.HOLDOUT:
            result["holdout"].append(shown)
            if not request.dry_run:
                session.add(member)
            continue
        discount = money.to_minor(money.quantize(discounts[promotion], currency), currency)
        if not request.dry_run:
            if not await grants.reserve(session, campaign, cost):
                skipped["campaign budget used"] = skipped.get("campaign budget used", 0) + 1
                continue
            grant = CampaignGrant(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                campaign_id=campaign.id,
                code=new_code(),
                customer_id=customer,
                promotion=promotion,
                currency=currency,
                discount_minor=discount,
                min_basket_minor=campaign.min_basket_minor,
                expected_cost_minor=cost,
                status=grants.ISSUED,
                granted_at=now,
                expires_at=expires_at,
            )
            session.add(grant)
            member.grant_id = grant.id
            session.add(member)
            shown["code"] = grant.code
        shown["discount"] = str(money.from_minor(discount, currency))
        shown["expires_at"] = expires_at
        result["treated"].append(shown)
    await session.flush()
    result["budget"] = await grants.budget_read(session, campaign)
    return result
