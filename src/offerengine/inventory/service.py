"""Inventory use cases. Inventory rules (hold duration, overbooking, low-stock threshold) are
created, updated, listed and versioned here (deleting one: :mod:`offerengine.inventory.rules`);
flights and schedules live in :mod:`offerengine.inventory.flights`, the live counters and their
atomic moves in :mod:`offerengine.inventory.stock`, both re-exported here for callers that use
several. The unit of work (``offerengine.deps.DbSession``) commits."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
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
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning

__all__ = [
    "INVENTORY_RULE",
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
    "update_rule",
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


async def _ensure_unique_rule(
    session: AsyncSession, tenant_id: uuid.UUID, data: InventoryRuleIn, exclude: uuid.UUID | None
) -> None:
    stmt = sa.select(InventoryRule.id).where(
        InventoryRule.tenant_id == tenant_id,
        InventoryRule.resource_type == data.resource_type,
        InventoryRule.resource.is_(None)
        if data.resource is None
        else InventoryRule.resource == data.resource,
    )
    if exclude is not None:
        stmt = stmt.where(InventoryRule.id != exclude)
    if await session.scalar(stmt) is not None:
        what = data.resource_type + (f"/{data.resource}" if data.resource else "")
        raise_if_any([FieldError(("body", "resource_type"), f"a rule for {what} exists already")])


async def _restore_rule(
    session: AsyncSession, rule: InventoryRule | None, data: Mapping[str, Any], tenant_id: uuid.UUID
) -> InventoryRule:
    recorded = InventoryRuleIn.model_validate(InventoryRuleRead.model_validate(data).as_input())
    exclude = rule.id if rule is not None else uuid.UUID(str(data["id"]))
    await _ensure_unique_rule(session, tenant_id, recorded, exclude)
    target = rule if rule is not None else InventoryRule(tenant_id=tenant_id)
    _apply_rule(target, recorded)
    return target


INVENTORY_RULE: versioning.Kind[InventoryRule] = versioning.Kind(
    name="inventory_rule", model=InventoryRule, dump=dump_rule, restore=_restore_rule
)


async def create_rule(
    session: AsyncSession, *, tenant: Tenant, data: InventoryRuleIn, actor: Actor
) -> InventoryRule:
    await _ensure_unique_rule(session, tenant.id, data, None)
    rule = InventoryRule(tenant_id=tenant.id)
    _apply_rule(rule, data)
    session.add(rule)
    await versioning.record(
        session, INVENTORY_RULE, rule, action="create", actor=actor, before=None
    )
    return rule


async def update_rule(
    session: AsyncSession,
    *,
    rule: InventoryRule,
    data: InventoryRuleIn,
    actor: Actor,
    expected_version: int | None,
) -> InventoryRule:
    versioning.check_version(rule, expected_version, "inventory rule")
    if InventoryRuleRead.of(rule).as_input() == data.model_dump(mode="json"):
        return rule
    await _ensure_unique_rule(session, rule.tenant_id, data, rule.id)
    before = dump_rule(rule)
    _apply_rule(rule, data)
    await versioning.record(
        session, INVENTORY_RULE, rule, action="update", actor=actor, before=before
    )
    return rule


async def list_rules(session: AsyncSession, *, tenant_id: uuid.UUID) -> Sequence[InventoryRule]:
    return (
        await session.scalars(
            sa.select(InventoryRule)
            .where(InventoryRule.tenant_id == tenant_id)
            .order_by(InventoryRule.resource_type, InventoryRule.resource, InventoryRule.id)
        )
    ).all()
