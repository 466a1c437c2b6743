"""Inventory rules as a configuration kind: the standard admin routes at /v1/admin/…/
inventory-rules (listed all at once, by resource), over the generic edits of
:data:`offerengine.inventory.service.RULE_EDITING` (create, update, delete and rollback, one rule
per resource type and resource). A deleted rule's history stays and a rollback recreates it; the
unit of work (``offerengine.deps.DbSession``) commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.inventory import service
from offerengine.inventory.models import InventoryRule
from offerengine.inventory.schemas import InventoryRuleIn, InventoryRuleRead, InventoryRuleUpdate
from offerengine.versioning.kinds import ConfigKind, PageRequest


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
    create=service.RULE_EDITING.create,
    update=service.RULE_EDITING.update,
    delete=service.RULE_EDITING.delete,
    list=_list,
    paged=False,
)
