"""Bundle template use cases: versioned configuration, compiled into the snapshot."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.bundles import core
from offerengine.bundles.models import BundleTemplate
from offerengine.bundles.schemas import BundleIn, BundleRead
from offerengine.db import unique
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning


def dump(bundle: BundleTemplate) -> dict[str, Any]:
    return BundleRead.of(bundle).model_dump(mode="json")


def _apply(bundle: BundleTemplate, data: BundleIn) -> None:
    values = data.model_dump(mode="json", exclude_none=False)
    for name in BundleIn.model_fields:
        setattr(bundle, name, values[name])
    bundle.product_types = [
        p.model_dump(mode="json", exclude_none=True) for p in data.product_types
    ]
    bundle.discount_percentage = data.discount_percentage


async def _unique_name(
    session: AsyncSession, tenant_id: uuid.UUID, name: str, exclude: uuid.UUID | None
) -> None:
    await unique.ensure_unused(
        session,
        BundleTemplate.bundle_name,
        name,
        tenant_id=tenant_id,
        exclude=exclude,
        what="bundle",
    )


async def _restore(
    session: AsyncSession,
    bundle: BundleTemplate | None,
    data: Mapping[str, Any],
    tenant_id: uuid.UUID,
) -> BundleTemplate:
    recorded = BundleIn.model_validate(BundleRead.model_validate(data).as_input())
    exclude = bundle.id if bundle is not None else uuid.UUID(str(data["id"]))
    await _unique_name(session, tenant_id, recorded.bundle_name, exclude)
    target = bundle if bundle is not None else BundleTemplate(tenant_id=tenant_id)
    _apply(target, recorded)
    return target


BUNDLE: versioning.Kind[BundleTemplate] = versioning.Kind(
    name="bundle_template", model=BundleTemplate, dump=dump, restore=_restore
)


async def create(
    session: AsyncSession, *, tenant: Tenant, data: BundleIn, actor: Actor
) -> BundleTemplate:
    await _unique_name(session, tenant.id, data.bundle_name, None)
    bundle = BundleTemplate(tenant_id=tenant.id)
    _apply(bundle, data)
    session.add(bundle)
    await versioning.record(session, BUNDLE, bundle, action="create", actor=actor, before=None)
    return bundle


async def update(
    session: AsyncSession,
    *,
    bundle: BundleTemplate,
    data: BundleIn,
    actor: Actor,
    expected_version: int | None,
) -> BundleTemplate:
    versioning.check_version(bundle, expected_version, f"bundle {bundle.bundle_name!r}")
    if BundleRead.of(bundle).as_input() == BundleIn.model_validate(
        data.model_dump(include=set(BundleIn.model_fields))
    ).model_dump(mode="json"):
        return bundle
    if data.bundle_name != bundle.bundle_name:
        await _unique_name(session, bundle.tenant_id, data.bundle_name, bundle.id)
    before = dump(bundle)
    _apply(bundle, data)
    await versioning.record(session, BUNDLE, bundle, action="update", actor=actor, before=before)
    return bundle


async def delete(
    session: AsyncSession, *, bundle: BundleTemplate, actor: Actor, expected_version: int | None
) -> None:
    versioning.check_version(bundle, expected_version, f"bundle {bundle.bundle_name!r}")
    await versioning.delete(session, BUNDLE, bundle, actor=actor)


async def list_bundles(
    session: AsyncSession, *, tenant_id: uuid.UUID, active: bool | None
) -> Sequence[BundleTemplate]:
    stmt = sa.select(BundleTemplate).where(BundleTemplate.tenant_id == tenant_id)
    if active is not None:
        stmt = stmt.where(BundleTemplate.is_active == active)
    return (
        await session.scalars(stmt.order_by(BundleTemplate.priority, BundleTemplate.bundle_name))
    ).all()


def facts(bundle: BundleTemplate) -> core.BundleFacts:
    return core.BundleFacts(
        id=bundle.id,
        name=bundle.bundle_name,
        bundle_type=bundle.bundle_type,
        items=core.item_specs(bundle.product_types),
        discount_percentage=Decimal(bundle.discount_percentage),
        priority=bundle.priority,
        version=bundle.version,
        is_active=bundle.is_active,
    )


async def load_index(session: AsyncSession, tenant_id: uuid.UUID) -> core.BundleIndex:
    rows = await session.scalars(
        sa.select(BundleTemplate).where(BundleTemplate.tenant_id == tenant_id)
    )
    return core.BundleIndex.build(facts(b) for b in rows)
