"""Reading pricing rules for people (the admin UI's list and editor), each read in a session of
its own from the app context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa

from offerengine.db.session import Sessions
from offerengine.pricing import service as pricing
from offerengine.pricing.models import PricingRule


async def pricing_rules(
    sessions: Sessions, *, tenant_id: uuid.UUID, q: str | None, limit: int, cursor: str | None
) -> tuple[Sequence[PricingRule], str | None]:
    """A page of the tenant's pricing rules in the order they apply, their names matching ``q``."""
    async with sessions.session_factory() as session:
        return await pricing.list_rules(
            session,
            tenant_id=tenant_id,
            where=pricing.RuleFilter(q=q),
            limit=limit,
            cursor=cursor,
        )


async def pricing_rule(
    sessions: Sessions, *, tenant_id: uuid.UUID, rule_id: uuid.UUID
) -> PricingRule | None:
    """One of the tenant's pricing rules, or None."""
    async with sessions.session_factory() as session:
        return await session.scalar(
            sa.select(PricingRule).where(
                PricingRule.id == rule_id, PricingRule.tenant_id == tenant_id
            )
        )
