"""Inventory use cases. Inventory rules (hold duration, overbooking, low-stock threshold) are
edited here through the generic steps (:mod:`offerengine.versioning.editing`, one rule per
resource), declared as a configuration kind in :mod:`offerengine.inventory.rules`;
flights and schedules live in :mod:`offerengine.inventory.flights`, the live counters and their
atomic moves in :mod:`offerengine.inventory.stock`, both re-exported here for callers that use
several. The unit of work (``offerengine.deps.DbSession``) commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.errors import FieldError, raise_if_any
from offerengine.inventory import core
from offerengine.inventory.flights import (
    WEEKDAYS,
    Created,
    add_flights,
    add_schedule,
    expand,
    flight_facts,
    list_flights,
    load_flights,
)
from offerengine.inventory.models import InventoryRule
from offerengine.inventory.schemas import InventoryRuleIn, InventoryRuleRead
from offerengine.inventory.stock import (
    Held,
    SoldOut,
    flight_availability,
    hold,
    mark_low,
    read_coming_stock,
    read_stock,
    release,
    unsell,
)
from offerengine.versioning.editing import Editing, read_back

__all__ = [
    "INVENTORY_RULE",
    "RULE_EDITING",
    "WEEKDAYS",
    "Created",
    "Held",
    "SoldOut",
    "add_flights",
    "add_schedule",
    "create_rule",
    "dump_rule",
    "expand",
    "flight_availability",
    "flight_facts",
    "hold",
    "list_flights",
    "list_rules",
    "load_flights",
    "load_policy",
    "mark_low",
    "read_coming_stock",
    "read_stock",
    "release",
    "rule_facts",
    "unsell",
]


def rule_facts(rule: InventoryRule) -> core.InventoryRuleFacts:
    policy = rule.release_policy or {}
    return core.InventoryRuleFacts(
        resource_type=rule.resource_type,
        resource=rule.resource,
        hold_duration_seconds=rule.hold_duration_seconds,
        overbooking_percentage=Decimal(rule.overbooking_percentage),
        min_availability_threshold=rule.min_availability_threshold,
        notify_on_low_inventory=bool(policy.get("notify_on_low_inventory", False)),
        id=rule.id,
        version=rule.version,
    )


async def load_policy(session: AsyncSession, tenant_id: uuid.UUID) -> core.InventoryPolicy:
    rows = await session.scalars(
        sa.select(InventoryRule).where(
            InventoryRule.tenant_id == tenant_id, InventoryRule.is_active.is_(True)
        )
    )
    return core.InventoryPolicy.build(rule_facts(r) for r in rows)


def dump_rule(rule: InventoryRule) -> dict[str, Any]:
    return InventoryRuleRead.of(rule).model_dump(mode="json")


def _apply_rule(rule: InventoryRule, data: InventoryRuleIn) -> None:
    values = data.model_dump(mode="json")
    values["overbooking_percentage"] = data.overbooking_percentage
    for name in InventoryRuleIn.model_fields:
        setattr(rule, name, values[name])


async def _check_rule(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    data: InventoryRuleIn,
    current: InventoryRule | None,
) -> None:
    """One rule per resource type and resource (none: the type's default) in a tenant."""
    stmt = sa.select(InventoryRule.id).where(
        InventoryRule.tenant_id == tenant_id,
        InventoryRule.resource_type == data.resource_type,
        InventoryRule.resource.is_(None)
        if data.resource is None
        else InventoryRule.resource == data.resource,
    )
    if current is not None:
        stmt = stmt.where(InventoryRule.id != current.id)
    if await session.scalar(stmt) is not None:
        what = data.resource_type + (f"/{data.resource}" if data.resource else "")
        raise_if_any([FieldError(("body", "resource_type"), f"a rule for {what} exists already")])


def _same_rule(rule: InventoryRule, data: InventoryRuleIn) -> bool:
    return InventoryRuleRead.of(rule).as_input() == data.model_dump(
        mode="json", include=set(InventoryRuleIn.model_fields)
    )


# Inventory rules as edited (a configuration kind: offerengine.inventory.rules).
RULE_EDITING: Editing[InventoryRule, InventoryRuleIn] = Editing(
    name="inventory_rule",
    what="inventory rule",
    model=InventoryRule,
    dump=dump_rule,
    apply=_apply_rule,
    same=_same_rule,
    recorded=read_back(InventoryRuleRead, InventoryRuleIn),
    title=lambda rule: "inventory rule",
    check=_check_rule,
)
INVENTORY_RULE = RULE_EDITING.history
create_rule = RULE_EDITING.create  # for callers outside HTTP (the demo's seed)


async def list_rules(session: AsyncSession, *, tenant_id: uuid.UUID) -> Sequence[InventoryRule]:
    return (
        await session.scalars(
            sa.select(InventoryRule)
            .where(InventoryRule.tenant_id == tenant_id)
            .order_by(InventoryRule.resource_type, InventoryRule.resource, InventoryRule.id)
        )
    ).all()
