"""Inventory rules as a configuration kind: the standard admin routes at /v1/admin/…/
inventory-rules (listed all at once, by resource), over the use cases of
:mod:`offerengine.inventory.service` (create, update, list), and deleting one here. A deleted
rule's history stays and a rollback recreates it; the unit of work (``offerengine.deps.DbSession``)
commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.inventory import service
from offerengine.inventory.models import InventoryRule
from offerengine.inventory.schemas import InventoryRuleIn, InventoryRuleRead, InventoryRuleUpdate
from offerengine.versioning import service as versioning
from offerengine.versioning.kinds import ConfigKind, PageRequest


async def delete_rule(
    session: AsyncSession, *, obj: InventoryRule, actor: Actor, expected_version: int | None
) -> None:
    """Delete a rule; a stale ``expected_version`` is a 409."""
    versioning.check_version(obj, expected_version, "inventory rule")
    await versioning.delete(session, service.INVENTORY_RULE, obj, actor=actor)


async def _update(
    session: AsyncSession,
    *,
    obj: InventoryRule,
    data: InventoryRuleUpdate,
    actor: Actor,
    expected_version: int | None,
) -> InventoryRule:
    return await service.update_rule(
        session,
        rule=obj,
        data=InventoryRuleIn.model_validate(data.model_dump(exclude={"version"})),
        actor=actor,
        expected_version=expected_version,
    )


async def _list(
    session: AsyncSession, *, tenant_id: uuid.UUID, filters: None, page: PageRequest | None
) -> tuple[Sequence[InventoryRule], str | None]:
    return await service.list_rules(session, tenant_id=tenant_id), None


INVENTORY_RULE_KIND: ConfigKind[InventoryRule] = ConfigKind(
    history=service.INVENTORY_RULE,
    what="inventory rule",
    path="inventory-rules",
    operation="InventoryRule",
    create_schema=InventoryRuleIn,
    update_schema=InventoryRuleUpdate,
    read_schema=InventoryRuleRead,
    read=InventoryRuleRead.of,
    create=service.create_rule,
    update=_update,
    delete=delete_rule,
    list=_list,
    paged=False,
)
