"""Applying a template set to a tenant: its products, bundle templates and fare family sets, each
through its kind's own import (created, updated or unchanged by natural key: product code, bundle
name, cabin and route), all in the caller's transaction, so a set applies wholly or not at all and
a second apply changes nothing. Every change is versioned and audited as the actor, and the apply
itself is audited with its counts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.bundles import service as bundles
from offerengine.bundles.schemas import BundleTransfer
from offerengine.catalog import service as catalog
from offerengine.errors import FieldError, Invalid, Loc, NotFound
from offerengine.revenue import service as revenue
from offerengine.revenue.schemas import FareFamilySetTransfer
from offerengine.starters import library
from offerengine.starters.schemas import KindCounts, TemplateSetApplied, TemplateSetFile
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning


def find(name: str) -> TemplateSetFile:
    """A shipped set by name; NotFound when there is none."""
    found = library.template_sets().get(name)
    if found is None:
        raise NotFound(f"No template set {name!r}; there are {', '.join(library.names())}.")
    return found


def problems(
    found: TemplateSetFile, tenant_kind: str, base_currency: str, loc: Loc
) -> list[FieldError]:
    """Why ``found`` cannot apply to a tenant of this kind and currency (none: it can)."""
    errors: list[FieldError] = []
    if tenant_kind not in found.tenant_kinds:
        errors.append(
            FieldError(
                loc,
                f"{found.name} is for {' and '.join(found.tenant_kinds)} tenants, not "
                f"{tenant_kind}",
            )
        )
    if base_currency != found.currency:
        errors.append(
            FieldError(
                loc,
                f"{found.name}'s prices are in {found.currency}; this tenant's base currency is "
                f"{base_currency} (a set applies only to a tenant of its currency)",
            )
        )
    return errors


def check_names(names: list[str], *, tenant_kind: str, base_currency: str, loc: Loc) -> None:
    """Every named set exists and fits the tenant; else an Invalid naming each bad one."""
    errors: list[FieldError] = []
    shipped = library.template_sets()
    for i, name in enumerate(names):
        found = shipped.get(name)
        if found is None:
            errors.append(
                FieldError((*loc, i), f"no template set {name!r}; there are {', '.join(shipped)}")
            )
            continue
        if names.index(name) != i:
            errors.append(FieldError((*loc, i), f"{name} is listed twice"))
            continue
        errors += problems(found, tenant_kind, base_currency, (*loc, i))
    if errors:
        raise Invalid.of(errors)


async def apply(
    session: AsyncSession,
    *,
    tenant: Tenant,
    name: str,
    actor: Actor,
    loc: Loc = ("path", "template_set"),
) -> TemplateSetApplied:
    """Apply the set ``name`` to ``tenant``; the caller's unit of work commits (or rolls back)."""
    found = find(name)
    errors = problems(found, tenant.kind, tenant.base_currency, loc)
    if errors:
        raise Invalid.of(errors)
    products = await catalog.bulk_upsert(
        session,
        tenant=tenant,
        rows=[p.model_dump(mode="json", exclude_none=True) for p in found.products],
        actor=actor,
    )
    made = await bundles.import_bundles(
        session, tenant=tenant, data=BundleTransfer(bundles=list(found.bundles)), actor=actor
    )
    families = await revenue.import_sets(
        session,
        tenant=tenant,
        data=FareFamilySetTransfer(fare_family_sets=list(found.fare_family_sets)),
        actor=actor,
    )
    counts = {
        "products": KindCounts(
            created=len(products.created),
            updated=len(products.updated),
            unchanged=len(products.unchanged),
        ),
        "bundles": KindCounts(created=made.created, updated=made.updated, unchanged=made.unchanged),
        "fare_family_sets": KindCounts(
            created=families.created, updated=families.updated, unchanged=families.unchanged
        ),
    }
    result = TemplateSetApplied(
        template_set=found.name,
        tenant=tenant.code,
        **counts,
        summary="; ".join(
            f"{kind.replace('_', ' ')}: {c.created} created, {c.updated} updated, "
            f"{c.unchanged} unchanged"
            for kind, c in counts.items()
        ),
    )
    versioning.audit(
        session,
        actor=actor,
        action="template_set.apply",
        tenant_id=tenant.id,
        object_type="template_set",
        detail=f"{found.name}: {result.summary}",
    )
    return result
