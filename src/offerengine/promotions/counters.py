"""Promotion bookkeeping: the counters of each promotion's spent budget (in minor units, under the
key :data:`BUDGET`) and of its grants per product, and the grants per customer. A grant is counted
atomically against its budget and its product's stock (:func:`take`): two recommendations at once
never overspend either. The caller's transaction commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import money
from offerengine.db import upsert
from offerengine.promotions.models import PromotionCounter, PromotionGrant
from offerengine.promotions.schemas import PromotionIn

BUDGET = ""  # the counter of a promotion's spent budget; other counters are per product


async def used(
    session: AsyncSession, tenant_id: uuid.UUID, codes: Sequence[str]
) -> dict[tuple[str, str], int]:
    """What these promotions used: by (promotion, :data:`BUDGET` or product code)."""
    rows = await session.execute(
        sa.select(
            PromotionCounter.promotion, PromotionCounter.product, PromotionCounter.used
        ).where(PromotionCounter.tenant_id == tenant_id, PromotionCounter.promotion.in_(codes))
    )
    return {(p, product): int(used) for p, product, used in rows}


async def granted(
    session: AsyncSession, tenant_id: uuid.UUID, codes: Sequence[str], customers: Sequence[str]
) -> dict[tuple[str, str], int]:
    """How many grants of these promotions these customers have: by (promotion, customer)."""
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(customers), 500):
        rows = await session.execute(
            sa.select(PromotionGrant.promotion, PromotionGrant.customer_id, sa.func.count())
            .where(
                PromotionGrant.tenant_id == tenant_id,
                PromotionGrant.promotion.in_(codes),
                PromotionGrant.customer_id.in_(customers[start : start + 500]),
            )
            .group_by(PromotionGrant.promotion, PromotionGrant.customer_id)
        )
        for promotion, customer, n in rows:
            found[(promotion, customer)] = int(n)
    return found


async def take(
    session: AsyncSession, tenant_id: uuid.UUID, promotion: PromotionIn, product: str, cost: Decimal
) -> bool:
    """Count a grant against the promotion's budget and the product's stock, each only while
    within its limit; both or neither. (Undoing the first is safe: its row stays locked by this
    transaction, SQLite's writers are serialised.)"""
    stock = next(p.stock for p in promotion.products if p.code == product)
    minor = money.to_minor(cost, promotion.currency)
    limits = (
        (BUDGET, minor, money.to_minor(promotion.budget, promotion.currency)),
        (product, 1, stock),
    )
    taken: list[tuple[str, int]] = []
    for key, amount, limit in limits:
        if not await _add(session, tenant_id, promotion.code, key, amount, limit):
            for done, undo in taken:
                await _add(session, tenant_id, promotion.code, done, -undo, None)
            return False
        taken.append((key, amount))
    return True


async def _add(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    code: str,
    key: str,
    amount: int,
    limit: int | None,
) -> bool:
    await session.execute(
        upsert.insert(session, PromotionCounter)
        .values(tenant_id=tenant_id, promotion=code, product=key, used=0)
        .on_conflict_do_nothing(index_elements=["tenant_id", "promotion", "product"])
    )
    stmt = sa.update(PromotionCounter).where(
        PromotionCounter.tenant_id == tenant_id,
        PromotionCounter.promotion == code,
        PromotionCounter.product == key,
    )
    if limit is not None:
        stmt = stmt.where(PromotionCounter.used + amount <= limit)
    moved = await session.execute(
        stmt.values(used=PromotionCounter.used + amount).execution_options(
            synchronize_session=False
        )
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]
