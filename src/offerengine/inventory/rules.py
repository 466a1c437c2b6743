"""Inventory-rule use cases beside :mod:`offerengine.inventory.service` (which creates, lists and
updates rules): deleting one. Its history stays and a rollback recreates it; the unit of work
(``offerengine.deps.DbSession``) commits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.inventory.models import InventoryRule
from offerengine.inventory.service import INVENTORY_RULE
from offerengine.versioning import service as versioning


async def delete_rule(
    session: AsyncSession, *, rule: InventoryRule, actor: Actor, expected_version: int | None
) -> None:
    """Delete a rule; a stale ``expected_version`` is a 409."""
    versioning.check_version(rule, expected_version, "inventory rule")
    await versioning.delete(session, INVENTORY_RULE, rule, actor=actor)
