"""Bundle template use cases: versioned configuration, compiled into the snapshot.

Bundle templates are a configuration kind (``BUNDLE_KIND``): create, update, delete and history
are the generic ones (:mod:`offerengine.versioning.editing`), the name unique per tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.bundles import core
from offerengine.bundles.models import BundleTemplate
from offerengine.bundles.schemas import (
    BundleImportResult,
    BundleIn,
    BundleRead,
    BundleTransfer,
    BundleUpdate,
)
from offerengine.db import paging
from offerengine.errors import FieldError, raise_if_any
from offerengine.pagination import DEFAULT_LIMIT
from offerengine.tenants.models import Tenant
from offerengine.versioning.editing import Editing, read_back
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


def _same(bundle: BundleTemplate, data: BundleIn) -> bool:
    return BundleRead.of(bundle).as_input() == BundleIn.model_validate(
        data.model_dump(include=set(BundleIn.model_fields))
    ).model_dump(mode="json")


EDITING: Editing[BundleTemplate, BundleIn] = Editing(
    name="bundle_template",
    what="bundle",
    model=BundleTemplate,
    dump=dump,
    apply=_apply,
    same=_same,
    recorded=read_back(BundleRead, BundleIn),
    title=lambda bundle: f"bundle {bundle.bundle_name!r}",
    key=BundleTemplate.bundle_name,
)
BUNDLE = EDITING.history
create = EDITING.create  # for callers outside HTTP (the demo's seed)


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
    """A page of the tenant's templates by priority, then name."""
    page = page or PageRequest(DEFAULT_LIMIT)
    return await paging.keyset_page(
        session,
        _bundles(sa.select(BundleTemplate), tenant_id, filters),
        (BundleTemplate.priority, BundleTemplate.bundle_name),
        limit=page.limit,
        cursor=page.cursor,
    )


async def _count(session: AsyncSession, *, tenant_id: uuid.UUID, filters: bool | None) -> int:
    stmt = _bundles(sa.select(sa.func.count()).select_from(BundleTemplate), tenant_id, filters)
    return int(await session.scalar(stmt) or 0)


def _bundles(stmt: Any, tenant_id: uuid.UUID, active: bool | None) -> Any:
    stmt = stmt.where(BundleTemplate.tenant_id == tenant_id)
    return stmt if active is None else stmt.where(BundleTemplate.is_active == active)


# Bundle templates as a configuration kind: the standard routes at /v1/admin/…/bundles, a page
# at a time by priority, filtered by whether they are active.
BUNDLE_KIND: ConfigKind[BundleTemplate] = ConfigKind(
    history=BUNDLE,
    what="bundle",
    path="bundles",
    operation="Bundle",
    create_schema=BundleIn,
    update_schema=BundleUpdate,
    read_schema=BundleRead,
    read=BundleRead.of,
    create=EDITING.create,
    update=EDITING.update,
    delete=EDITING.delete,
    list=_list,
    count=_count,
)


async def import_bundles(
    session: AsyncSession, *, tenant: Tenant, data: BundleTransfer, actor: Actor
) -> BundleImportResult:
    """Create or update templates by name, all or nothing; an unchanged one gets no version."""
    names: set[str] = set()
    errors: list[FieldError] = []
    for i, item in enumerate(data.bundles):
        if item.bundle_name in names:
            errors.append(
                FieldError(("body", "bundles", i, "bundle_name"), "this name is listed twice")
            )
        names.add(item.bundle_name)
    raise_if_any(errors)
    found = {
        b.bundle_name: b
        for b in await session.scalars(
            sa.select(BundleTemplate).where(
                BundleTemplate.tenant_id == tenant.id, BundleTemplate.bundle_name.in_(names)
            )
        )
    }
    created = updated = unchanged = 0
    items: list[BundleTemplate] = []
    for item in data.bundles:
        current = found.get(item.bundle_name)
        if current is None:
            items.append(await EDITING.create(session, tenant=tenant, data=item, actor=actor))
            created += 1
            continue
        version = current.version
        items.append(
            await EDITING.update(
                session, obj=current, data=item, actor=actor, expected_version=None
            )
        )
        if current.version == version:
            unchanged += 1
        else:
            updated += 1
    return BundleImportResult(
        created=created,
        updated=updated,
        unchanged=unchanged,
        items=[BundleRead.of(b) for b in items],
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
