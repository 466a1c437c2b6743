"""Inventory rules as a configuration kind: the standard admin routes at /v1/admin/…/
inventory-rules (a page at a time, by resource), over the generic edits of
:data:`offerengine.inventory.service.RULE_EDITING` (create, update, delete and rollback, one rule
per resource type and resource). A deleted rule's history stays and a rollback recreates it; the
unit of work (``offerengine.deps.DbSession``) commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.db import paging
from offerengine.inventory import service
from offerengine.inventory.models import InventoryRule
from offerengine.inventory.schemas import InventoryRuleIn, InventoryRuleRead, InventoryRuleUpdate
from offerengine.pagination import DEFAULT_LIMIT
from offerengine.versioning.kinds import ConfigKind, PageRequest


async def _list(
    session: AsyncSession, *, tenant_id: uuid.UUID, filters: None, page: PageRequest | None
) -> tuple[Sequence[InventoryRule], str | None]:
    page = page or PageRequest(DEFAULT_LIMIT)
    return await paging.keyset_page(
        session,
        sa.select(InventoryRule).where(InventoryRule.tenant_id == tenant_id),
        (InventoryRule.resource_type, InventoryRule.resource, InventoryRule.id),
        limit=page.limit,
        cursor=page.cursor,
    )


async def _count(session: AsyncSession, *, tenant_id: uuid.UUID, filters: None) -> int:
    stmt = sa.select(sa.func.count()).select_from(InventoryRule)
    return int(await session.scalar(stmt.where(InventoryRule.tenant_id == tenant_id)) or 0)


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
    count=_count,
)
