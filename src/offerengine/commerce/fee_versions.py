"""A fee rule's versions, oldest first, and which of them is in force now.

Read from the rule's history (``ObjectVersion`` rows): deletions are left out, and the version in
force is the one the core's :class:`core.Timeline` of the rule's states picks for the time given.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.commerce import core
from offerengine.commerce import schemas as s
from offerengine.commerce.models import FeeRule
from offerengine.commerce.service import FEE_RULE
from offerengine.errors import Invalid
from offerengine.versioning.models import ObjectVersion


async def rule_versions(
    session: AsyncSession, *, tenant_id: uuid.UUID, name: str
) -> tuple[FeeRule, Sequence[ObjectVersion]]:
    """The fee rule named ``name`` and its versions, oldest first (seed 002's endpoint)."""
    rule = await session.scalar(
        sa.select(FeeRule).where(FeeRule.tenant_id == tenant_id, FeeRule.name == name)
    )
    if rule is None:
        raise Invalid.field(("query", "name"), f"no fee rule named {name!r}")
    rows = (
        await session.scalars(
            sa.select(ObjectVersion)
            .where(
                ObjectVersion.object_type == FEE_RULE.history_name,
                ObjectVersion.object_id == rule.id,
            )
            .order_by(ObjectVersion.version)
        )
    ).all()
    return rule, rows


def versions_read(rule: FeeRule, rows: Sequence[ObjectVersion], now: datetime) -> s.RuleVersions:
    kept = [r for r in rows if r.action != "delete"]
    in_force = core.Timeline(core.fee_state(r.data, r.created_at) for r in kept).in_force(now)
    current = in_force[0].version if in_force else None
    return s.RuleVersions(
        rule_id=rule.id,
        name=rule.name,
        type=rule.type,
        in_force_version=current,
        items=[
            s.RuleVersion(
                version=r.version,
                action=r.action,
                in_force=r.version == current,
                effective_from=r.data.get("effective_from"),
                effective_to=r.data.get("effective_to"),
                is_active=bool(r.data.get("is_active", True)),
                region=r.data.get("region"),
                configuration=r.data.get("configuration") or {},
                author=r.actor_name,
                created_at=r.created_at,
            )
            for r in kept
        ],
    )
