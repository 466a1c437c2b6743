"""Fare family sets as a configuration kind: per cabin (and optionally per route), the nested
families a forecast sets booking limits for, with versions, rollback, export/import and audit
through the generic machinery (:mod:`offerengine.versioning.kinds`; the edits are
:mod:`offerengine.versioning.editing`'s, one set per cabin and route).

A family's fare is a **multiplier of the cabin's fare**, not an amount: shopping prices a cabin
as its FLIGHT product through the pricing rules (base × adjustments, clamped, in the product's
currency, converted to the selling one), so a multiple follows every adjustment and currency the
cabin fare has, where a fixed amount would fall out of step with them; EMSR-b needs only the
fares' order and ratios, and the bid price is an amount once multiplied by the cabin's price.
The set the current shopping sells at is the family with multiplier 1. Branded fares (issue 32)
extend the same set with what a family includes and its conditions.

The unit of work (``offerengine.deps.DbSession``) commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.errors import Conflict, FieldError, Loc, raise_if_any
from offerengine.revenue.core.history import Ladder, Market
from offerengine.revenue.models import FareFamilySet
from offerengine.revenue.schemas import (
    DEFAULT_PERIODS,
    FareFamilyAttributes,
    FareFamilySetImportResult,
    FareFamilySetIn,
    FareFamilySetRead,
    FareFamilySetTransfer,
    FareFamilySetUpdate,
)
from offerengine.tenants.models import Tenant
from offerengine.versioning.editing import Editing, read_back
from offerengine.versioning.kinds import ConfigKind, PageRequest, Transfer


def read(obj: FareFamilySet) -> FareFamilySetRead:
    return FareFamilySetRead.model_validate(
        {
            "id": obj.id,
            "tenant_id": obj.tenant_id,
            "cabin": obj.cabin,
            "route": obj.route,
            "families": obj.families,
            "booking_periods": obj.booking_periods,
            "is_active": obj.is_active,
            "version": obj.version,
            "created_at": obj.created_at,
            "updated_at": obj.updated_at,
        }
    )


def dump(obj: FareFamilySet) -> dict[str, Any]:
    return read(obj).model_dump(mode="json")


def check(data: FareFamilySetIn, loc: Loc = ("body",)) -> list[FieldError]:
    """Families nested highest first with unique codes; booking periods descending."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, family in enumerate(data.families):
        if family.code in seen:
            errors.append(FieldError((*loc, "families", i, "code"), f"{family.code!r} is twice"))
        seen.add(family.code)
        errors += _fee_errors(family.attributes, (*loc, "families", i, "attributes"))
        if i and family.multiplier >= data.families[i - 1].multiplier:
            errors.append(
                FieldError(
                    (*loc, "families", i, "multiplier"),
                    "families are nested highest first: each multiplier must be below the "
                    "one before it",
                )
            )
    if data.booking_periods != sorted(set(data.booking_periods), reverse=True):
        errors.append(
            FieldError(
                (*loc, "booking_periods"), "must be distinct days before departure, descending"
            )
        )
    return errors


def _fee_errors(attributes: FareFamilyAttributes, loc: Loc) -> list[FieldError]:
    """A change or refund fee is given exactly when its rule is ``fee``."""
    errors: list[FieldError] = []
    for rule, fee, name in (
        (attributes.changes, attributes.change_fee, "change_fee"),
        (attributes.refunds, attributes.refund_fee, "refund_fee"),
    ):
        if rule == "fee" and fee is None:
            errors.append(FieldError((*loc, name), f"{name} is required when the rule is fee"))
        elif rule != "fee" and fee is not None:
            errors.append(FieldError((*loc, name), f"{name} is given only when the rule is fee"))
    return errors


def _apply(obj: FareFamilySet, data: FareFamilySetIn) -> None:
    values = data.model_dump(mode="json")
    for name in FareFamilySetIn.model_fields:
        setattr(obj, name, values[name])


async def _same_scope(
    session: AsyncSession, tenant_id: uuid.UUID, cabin: str, route: str | None
) -> FareFamilySet | None:
    return await session.scalar(
        sa.select(FareFamilySet).where(
            FareFamilySet.tenant_id == tenant_id,
            FareFamilySet.cabin == cabin,
            FareFamilySet.route.is_(None) if route is None else FareFamilySet.route == route,
        )
    )


async def _ensure_unique(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    data: FareFamilySetIn,
    exclude: uuid.UUID | None,
    loc: Loc = ("body",),
) -> None:
    found = await _same_scope(session, tenant_id, data.cabin, data.route)
    if found is not None and found.id != exclude:
        where = data.route or "every route"
        msg = f"{data.cabin} on {where} has a fare family set already"
        raise Conflict(
            f"{'.'.join(map(str, (*loc, 'route')))}: {msg}", [FieldError((*loc, "route"), msg)]
        )


def _same(obj: FareFamilySet, data: FareFamilySetIn) -> bool:
    return read(obj).as_input() == data.model_dump(
        mode="json", include=set(FareFamilySetIn.model_fields)
    )


async def _check(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    data: FareFamilySetIn,
    current: FareFamilySet | None,
) -> None:
    """The families' order and codes; one set per cabin and route (none: every route)."""
    raise_if_any(check(data))
    await _ensure_unique(session, tenant_id, data, None if current is None else current.id)


EDITING: Editing[FareFamilySet, FareFamilySetIn] = Editing(
    name="fare_family_set",
    what="fare family set",
    model=FareFamilySet,
    dump=dump,
    apply=_apply,
    same=_same,
    recorded=read_back(FareFamilySetRead, FareFamilySetIn),
    title=lambda obj: "fare family set",
    check=_check,
)
FARE_FAMILY_SET = EDITING.history


async def list_sets(
    session: AsyncSession, *, tenant_id: uuid.UUID, active_only: bool = False
) -> Sequence[FareFamilySet]:
    """The tenant's sets by cabin, the all-routes set first."""
    stmt = sa.select(FareFamilySet).where(FareFamilySet.tenant_id == tenant_id)
    if active_only:
        stmt = stmt.where(FareFamilySet.is_active.is_(True))
    order = (FareFamilySet.cabin, FareFamilySet.route.is_not(None), FareFamilySet.route)
    return (await session.scalars(stmt.order_by(*order))).all()


async def _list(
    session: AsyncSession, *, tenant_id: uuid.UUID, filters: None, page: PageRequest | None
) -> tuple[Sequence[FareFamilySet], str | None]:
    return await list_sets(session, tenant_id=tenant_id), None


async def export(session: AsyncSession, *, tenant_id: uuid.UUID) -> FareFamilySetTransfer:
    """Every set, in the shape import takes."""
    rows = await list_sets(session, tenant_id=tenant_id)
    return FareFamilySetTransfer.model_validate(
        {"fare_family_sets": [read(r).as_input() for r in rows]}
    )


async def import_sets(
    session: AsyncSession, *, tenant: Tenant, data: FareFamilySetTransfer, actor: Actor
) -> FareFamilySetImportResult:
    """Create or update sets by cabin and route, all or nothing, every bad one reported."""
    done = await EDITING.import_by_scope(
        session,
        tenant=tenant,
        items=data.fare_family_sets,
        actor=actor,
        at=("body", "fare_family_sets"),
        scope=lambda item: (item.cabin, item.route),
        twice=("route", "a set for this cabin and route is twice"),
        check=check,
        find=lambda session, tenant_id, scope: _same_scope(session, tenant_id, *scope),
    )
    return FareFamilySetImportResult(
        created=done.created,
        updated=done.updated,
        unchanged=done.unchanged,
        items=[read(r) for r in done.objects],
    )


# --- the sets as the forecast reads them ----------------------------------------------------------


class Ladders:
    """Each market's fare families: its route's set, else its cabin's all-routes set, else the
    cabin as one class (multiplier 1) that every booking counts in."""

    def __init__(self, sets: Sequence[FareFamilySet]) -> None:
        self._sets = {(s.cabin, s.route): s for s in sets if s.is_active}

    def set_for(self, market: Market) -> FareFamilySet | None:
        route, cabin = market
        return self._sets.get((cabin, route)) or self._sets.get((cabin, None))

    def ladder(self, market: Market) -> Ladder:
        found = self.set_for(market)
        if found is None:
            return Ladder((market[1],), market[1], tuple(DEFAULT_PERIODS), absorbs=True)
        families = [f["code"] for f in found.families]
        return Ladder(tuple(families), _base(found), tuple(found.booking_periods))

    def multipliers(self, market: Market) -> list[tuple[str, str, Any]]:
        """(code, name, multiplier) per family, highest first."""
        found = self.set_for(market)
        if found is None:
            return [(market[1], market[1].replace("_", " ").title(), "1")]
        return [(f["code"], f["name"], f["multiplier"]) for f in found.families]


def _base(found: FareFamilySet) -> str:
    """The family an order of no known family counts in: the one at the cabin fare as shopping
    sells it (multiplier 1), else the one nearest it (the dearer of two as near)."""

    def distance(family: dict[str, Any]) -> tuple[Decimal, Decimal]:
        m = Decimal(str(family["multiplier"]))
        return abs(m - 1), -m

    return str(min(found.families, key=distance)["code"])


# Fare family sets as a configuration kind: the standard routes at /v1/admin/…/fare-family-sets,
# listed all at once by cabin.
FARE_FAMILY_SET_KIND: ConfigKind[FareFamilySet] = ConfigKind(
    history=FARE_FAMILY_SET,
    what="fare family set",
    path="fare-family-sets",
    operation="FareFamilySet",
    create_schema=FareFamilySetIn,
    update_schema=FareFamilySetUpdate,
    read_schema=FareFamilySetRead,
    read=read,
    create=EDITING.create,
    update=EDITING.update,
    delete=EDITING.delete,
    list=_list,
    paged=False,
    transfer=Transfer(
        schema=FareFamilySetTransfer,
        result=FareFamilySetImportResult,
        export=export,
        import_=import_sets,
    ),
)
