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
from offerengine.bundles.schemas import BundleIn, BundleRead, BundleUpdate
from offerengine.db import unique
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning
from offerengine.versioning.kinds import ConfigKind, PageRequest


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
    obj: BundleTemplate,
    data: BundleIn,
    actor: Actor,
    expected_version: int | None,
) -> BundleTemplate:
    versioning.check_version(obj, expected_version, f"bundle {obj.bundle_name!r}")
    if BundleRead.of(obj).as_input() == BundleIn.model_validate(
        data.model_dump(include=set(BundleIn.model_fields))
    ).model_dump(mode="json"):
        return obj
    if data.bundle_name != obj.bundle_name:
        await _unique_name(session, obj.tenant_id, data.bundle_name, obj.id)
    before = dump(obj)
    _apply(obj, data)
    await versioning.record(session, BUNDLE, obj, action="update", actor=actor, before=before)
    return obj


async def delete(
    session: AsyncSession, *, obj: BundleTemplate, actor: Actor, expected_version: int | None
) -> None:
    versioning.check_version(obj, expected_version, f"bundle {obj.bundle_name!r}")
    await versioning.delete(session, BUNDLE, obj, actor=actor)


async def list_bundles(
    session: AsyncSession, *, tenant_id: uuid.UUID, active: bool | None
) -> Sequence[BundleTemplate]:
    stmt = sa.select(BundleTemplate).where(BundleTemplate.tenant_id == tenant_id)
    if active is not None:
        stmt = stmt.where(BundleTemplate.is_active == active)
    return (
        await session.scalars(stmt.order_by(BundleTemplate.priority, BundleTemplate.bundle_name))
    ).all()


async def _list(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    filters: bool | None,
    page: PageRequest | None,
) -> tuple[Sequence[BundleTemplate], str | None]:
    return await list_bundles(session, tenant_id=tenant_id, active=filters), None


# Bundle templates as a configuration kind: the standard routes at /v1/admin/…/bundles, listed
# all at once (by priority), filtered by whether they are active.
BUNDLE_KIND: ConfigKind[BundleTemplate] = ConfigKind(
    history=BUNDLE,
    what="bundle",
    path="bundles",
    operation="Bundle",
    create_schema=BundleIn,
    update_schema=BundleUpdate,
    read_schema=BundleRead,
    read=BundleRead.of,
    create=create,
    update=update,
    delete=delete,
    list=_list,
    paged=False,
)


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
