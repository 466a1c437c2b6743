"""Grants as personal coupons, and the campaign budget they move.

A grant's life, each step one conditional statement (two at once never both succeed, and the
budget is never overspent):

- **granted** (:func:`reserve`): the campaign's ``reserved`` grows by the grant's expected cost
  only while ``reserved + spent`` stays within the budget;
- **quoted**: ``POST /v1/quote`` with the code in ``coupon_codes`` and the grant's customer as
  ``customer_id`` applies it as a FIXED coupon (:func:`as_coupon`) with its limits: its expiry,
  one use, the campaign's minimum basket; a code of another customer's is a 422 naming the
  ``coupon_codes`` entry, as an unknown code is;
- **shopped**: an airline's ``POST /v1/offers/search`` with the code in ``coupon_codes`` and
  the grant's customer as ``customer.id`` takes it off the offers it fits, on the same terms
  (:mod:`offerengine.shopping.grants`); for anyone else it is not applied, with the reason;
- **redeemed** (:func:`redeem`), when the quote that applied it is accepted
  (``POST /v1/quotes/{id}/accept``, in the acceptance's transaction), or an airline order is
  made from an offer that applied it (``POST /v1/orders``, in the order's transaction):
  ISSUED → REDEEMED while not expired, and the reservation becomes the discount actually given
  (``reserved − expected``, ``spent + discount``) only while ``spent`` stays within the budget;
  otherwise the acceptance or the order is a 409 and takes nothing. A cancelled or expired
  order gives it back (:func:`unredeem`): ISSUED again with its reservation (EXPIRED if past
  its time), its discount no longer spent. What is spent never passes the budget; reservations are expected
  costs, so when grants are redeemed more than expected, ``reserved + spent`` may pass it for
  a while, and no new grant is made until expiries and redemptions bring it back;
- **expired** (:func:`sweep`): ISSUED grants past ``expires_at`` become EXPIRED and give their
  reservation back. Run again, it finds nothing more: idempotent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.campaigns.models import Campaign, CampaignBudget, CampaignGrant
from offerengine.campaigns.schemas import CampaignGrantRead
from offerengine.commerce import core as commerce
from offerengine.db import upsert
from offerengine.errors import Conflict, FieldError

ISSUED, REDEEMED, EXPIRED = "ISSUED", "REDEEMED", "EXPIRED"
PREFIX = "G-"  # personal codes begin so (a catalogue coupon of the same code wins)


@dataclass(frozen=True, slots=True)
class Budget:
    reserved: int
    spent: int


async def budget(session: AsyncSession, campaign: Campaign) -> Budget:
    """The campaign's budget in use, in minor units."""
    row = (
        await session.execute(
            sa.select(CampaignBudget.reserved, CampaignBudget.spent).where(
                CampaignBudget.tenant_id == campaign.tenant_id,
                CampaignBudget.campaign_id == campaign.id,
            )
        )
    ).first()
    return Budget(0, 0) if row is None else Budget(int(row[0]), int(row[1]))


async def budget_read(session: AsyncSession, campaign: Campaign) -> dict[str, str]:
    used = await budget(session, campaign)
    show = money.from_minor
    c = campaign.currency
    return {
        "currency": c,
        "budget": str(show(campaign.budget_minor, c)),
        "reserved": str(show(used.reserved, c)),
        "spent": str(show(used.spent, c)),
        "left": str(show(campaign.budget_minor - used.reserved - used.spent, c)),
    }


async def reserve(session: AsyncSession, campaign: Campaign, amount: int) -> bool:
    """Reserve ``amount`` (minor units) of the campaign's budget, only while it stays within
    it; whether it was."""
    await session.execute(
        upsert.insert(session, CampaignBudget)
        .values(tenant_id=campaign.tenant_id, campaign_id=campaign.id, reserved=0, spent=0)
        .on_conflict_do_nothing(index_elements=["tenant_id", "campaign_id"])
    )
    taken = await session.execute(
        sa.update(CampaignBudget)
        .where(
            CampaignBudget.tenant_id == campaign.tenant_id,
            CampaignBudget.campaign_id == campaign.id,
            CampaignBudget.reserved + CampaignBudget.spent + amount <= campaign.budget_minor,
        )
        .values(reserved=CampaignBudget.reserved + amount)
        .returning(CampaignBudget.reserved)
        .execution_options(synchronize_session=False)
    )
    return taken.first() is not None


async def sweep(session: AsyncSession, tenant_id: uuid.UUID | None, now: datetime) -> int:
    """Expire the ISSUED grants past their time (of a tenant, or of all) and give their
    reservations back; how many expired. Idempotent: an expired grant is never released twice."""
    stmt = sa.update(CampaignGrant).where(
        CampaignGrant.status == ISSUED, CampaignGrant.expires_at <= now
    )
    if tenant_id is not None:
        stmt = stmt.where(CampaignGrant.tenant_id == tenant_id)
    rows = (
        await session.execute(
            stmt.values(status=EXPIRED)
            .returning(
                CampaignGrant.tenant_id,
                CampaignGrant.campaign_id,
                CampaignGrant.expected_cost_minor,
            )
            .execution_options(synchronize_session=False)
        )
    ).all()
    released: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for tenant, campaign_id, cost in rows:
        released[(tenant, campaign_id)] = released.get((tenant, campaign_id), 0) + int(cost)
    for (tenant, campaign_id), amount in released.items():
        await session.execute(
            sa.update(CampaignBudget)
            .where(CampaignBudget.tenant_id == tenant, CampaignBudget.campaign_id == campaign_id)
            .values(reserved=CampaignBudget.reserved - amount)
            .execution_options(synchronize_session=False)
        )
    return len(rows)


# ---- as coupons of a quote ----


def is_personal(code: str) -> bool:
    return code.strip().upper().startswith(PREFIX)


async def find(
    session: AsyncSession, tenant_id: uuid.UUID, codes: Sequence[str]
) -> dict[str, CampaignGrant]:
    """The grants of these codes (upper case), by code."""
    wanted = sorted({c.strip().upper() for c in codes})
    if not wanted:
        return {}
    rows = await session.scalars(
        sa.select(CampaignGrant).where(
            CampaignGrant.tenant_id == tenant_id, CampaignGrant.code.in_(wanted)
        )
    )
    return {g.code: g for g in rows}


def as_coupon(grant: CampaignGrant) -> commerce.Coupon:
    """The grant as the quote's coupon: its discount off, from the campaign's minimum basket,
    valid until it expires, once (a redeemed grant has its use)."""
    c = grant.currency
    return commerce.coupon(
        {
            "id": grant.id,
            "version": 1,
            "code": grant.code,
            "name": f"personal coupon ({grant.promotion})",
            "type": "FIXED",
            "value": str(money.from_minor(grant.discount_minor, c)),
            "min_basket": None
            if grant.min_basket_minor is None
            else str(money.from_minor(grant.min_basket_minor, c)),
            "currency": c,
            "valid_from": grant.granted_at.isoformat(),
            "valid_until": grant.expires_at.isoformat(),
            "usage_limit_total": 1,
            "usage_limit_per_customer": 1,
            "stackable": True,
            "is_active": grant.status != EXPIRED,
        }
    )


def usage(grant: CampaignGrant) -> commerce.Usage:
    used = int(grant.status == REDEEMED)
    return commerce.Usage(total=used, customer=used)


async def redeem(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    grant_id: uuid.UUID,
    code: str,
    customer_id: str | None,
    discount: int,
    now: datetime,
    quote_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
) -> bool:
    """Redeem the grant for the accepted quote (``quote_id``) or the airline order made
    (``order_id``) and spend its discount from the campaign's budget (the reservation
    released); a 409 naming the coupon when it was used or expired meanwhile, or the spent
    budget cannot take it (the caller's transaction takes nothing). False when no grant has
    that id (a catalogue coupon of such a code, deleted since)."""
    where = ("coupons", code)
    done, ask = (
        ("accepted", "Ask for a new quote")
        if order_id is None
        else ("booked", "Search again for offers")
    )
    known = await session.scalar(
        sa.select(CampaignGrant.id).where(
            CampaignGrant.tenant_id == tenant_id, CampaignGrant.id == grant_id
        )
    )
    if known is None:
        return False
    taken = (
        await session.execute(
            sa.update(CampaignGrant)
            .where(
                CampaignGrant.tenant_id == tenant_id,
                CampaignGrant.id == grant_id,
                CampaignGrant.customer_id == (customer_id or ""),
                CampaignGrant.status == ISSUED,
                CampaignGrant.expires_at > now,
            )
            .values(
                status=REDEEMED,
                redeemed_at=now,
                quote_id=quote_id,
                order_id=order_id,
                spent_minor=discount,
            )
            .returning(CampaignGrant.campaign_id, CampaignGrant.expected_cost_minor)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if taken is None:
        made = "the quote" if order_id is None else "the offer"
        raise Conflict(
            f"Coupon {code} was used or expired since {made} was made; nothing was {done}. {ask}.",
            [FieldError(where, "used or expired")],
        )
    campaign_id, expected = taken
    limit = await session.scalar(sa.select(Campaign.budget_minor).where(Campaign.id == campaign_id))
    spent = (
        await session.execute(
            sa.update(CampaignBudget)
            .where(
                CampaignBudget.tenant_id == tenant_id,
                CampaignBudget.campaign_id == campaign_id,
                CampaignBudget.spent + discount <= (limit or 0),
            )
            .values(
                reserved=CampaignBudget.reserved - expected,
                spent=CampaignBudget.spent + discount,
            )
            .returning(CampaignBudget.spent)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if spent is None:
        raise Conflict(
            f"The campaign of coupon {code} has spent its budget; nothing was {done}. "
            f"{ask} without it.",
            [FieldError(where, "campaign budget spent")],
        )
    return True


async def unredeem(
    session: AsyncSession, *, tenant_id: uuid.UUID, order_id: uuid.UUID, now: datetime
) -> list[str]:
    """The airline order that redeemed grants was cancelled or expired: each grant it redeemed
    is open again (ISSUED, its expected cost reserved again) or, past its expiry, EXPIRED; the
    discount it spent goes back to the campaign's budget. Once: a grant no longer redeemed by
    this order is left alone. The codes given back."""
    found = (
        await session.execute(
            sa.select(
                CampaignGrant.id,
                CampaignGrant.code,
                CampaignGrant.campaign_id,
                CampaignGrant.expected_cost_minor,
                CampaignGrant.spent_minor,
                CampaignGrant.expires_at,
            ).where(
                CampaignGrant.tenant_id == tenant_id,
                CampaignGrant.order_id == order_id,
                CampaignGrant.status == REDEEMED,
            )
        )
    ).all()
    given_back = []
    for grant_id, code, campaign_id, expected, spent, expires_at in found:
        reopened = expires_at > now
        moved = (
            await session.execute(
                sa.update(CampaignGrant)
                .where(
                    CampaignGrant.id == grant_id,
                    CampaignGrant.order_id == order_id,
                    CampaignGrant.status == REDEEMED,
                )
                .values(
                    status=ISSUED if reopened else EXPIRED,
                    redeemed_at=None,
                    order_id=None,
                    spent_minor=None,
                )
                .returning(CampaignGrant.id)
                .execution_options(synchronize_session=False)
            )
        ).first()
        if moved is None:
            continue
        await session.execute(
            sa.update(CampaignBudget)
            .where(CampaignBudget.tenant_id == tenant_id, CampaignBudget.campaign_id == campaign_id)
            .values(
                reserved=CampaignBudget.reserved + (int(expected) if reopened else 0),
                spent=CampaignBudget.spent - int(spent or 0),
            )
            .execution_options(synchronize_session=False)
        )
        given_back.append(str(code))
    return given_back


async def spendable(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """What each campaign can still spend on redemptions (budget − spent, minor units)."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        sa.select(Campaign.id, Campaign.budget_minor, CampaignBudget.spent)
        .outerjoin(
            CampaignBudget,
            sa.and_(
                CampaignBudget.tenant_id == Campaign.tenant_id,
                CampaignBudget.campaign_id == Campaign.id,
            ),
        )
        .where(Campaign.tenant_id == tenant_id, Campaign.id.in_(sorted(set(campaign_ids))))
    )
    return {cid: int(limit) - int(spent or 0) for cid, limit, spent in rows}


# ---- listing ----


def grant_read(grant: CampaignGrant) -> CampaignGrantRead:
    c = grant.currency

    def show(minor: int | None) -> str | None:
        return None if minor is None else str(money.from_minor(minor, c))

    return CampaignGrantRead(
        id=grant.id,
        code=grant.code,
        customer_id=grant.customer_id,
        promotion=grant.promotion,
        currency=c,
        discount=str(money.from_minor(grant.discount_minor, c)),
        min_basket=show(grant.min_basket_minor),
        expected_cost=str(money.from_minor(grant.expected_cost_minor, c)),
        status=grant.status,
        granted_at=grant.granted_at,
        expires_at=grant.expires_at,
        redeemed_at=grant.redeemed_at,
        quote_id=grant.quote_id,
        order_id=grant.order_id,
        spent=show(grant.spent_minor),
    )


async def list_grants(
    session: AsyncSession, campaign: Campaign, *, status: str | None, limit: int
) -> list[CampaignGrantRead]:
    stmt = sa.select(CampaignGrant).where(
        CampaignGrant.tenant_id == campaign.tenant_id, CampaignGrant.campaign_id == campaign.id
    )
    if status is not None:
        stmt = stmt.where(CampaignGrant.status == status)
    rows = await session.scalars(
        stmt.order_by(CampaignGrant.granted_at, CampaignGrant.code).limit(limit)
    )
    return [grant_read(g) for g in rows]


async def open_grant(
    session: AsyncSession, tenant_id: uuid.UUID, customer_id: str, now: datetime
) -> dict[str, str] | None:
    """The customer's unredeemed, unexpired grant that expires first (what a decisioning
    placement serves them), as :func:`offerengine.campaigns.core.fill` takes it; None if they hold none."""
    grant = await session.scalar(
        sa.select(CampaignGrant)
        .where(
            CampaignGrant.tenant_id == tenant_id,
            CampaignGrant.customer_id == customer_id,
            CampaignGrant.status == ISSUED,
            CampaignGrant.expires_at > now,
        )
        .order_by(CampaignGrant.expires_at, CampaignGrant.code)
        .limit(1)
    )
    if grant is None:
        return None
    return {
        "code": grant.code,
        "discount": str(money.from_minor(grant.discount_minor, grant.currency)),
        "currency": grant.currency,
        "promotion": grant.promotion,
        "expires_at": grant.expires_at.isoformat(),
    }
