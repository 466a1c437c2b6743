"""Commission rates in bulk: many created or replaced at once, all or nothing.

Every row is checked as a single rate would be (:func:`offerengine.commerce.service.check`), and
against the rate it replaces (it exists, is given once, is at the version the row expects); every
row's errors are reported together, and nothing is written unless all rows pass; then each row
is saved by the rates' generic edits (a row equal to its rate changes nothing).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.commerce import schemas as s
from offerengine.commerce.models import CommissionRate
from offerengine.commerce.service import BODY, RATE, Entry, check
from offerengine.errors import FieldError, Invalid, Loc, raise_if_any
from offerengine.tenants.models import Tenant


async def bulk_rates(
    session: AsyncSession, *, tenant: Tenant, data: s.CommissionRateBulk, actor: Actor
) -> s.BulkResult:
    """Create or replace many rates, all or nothing: every row's errors are reported at once."""
    ids = [row.id for row in data.rates if row.id is not None]
    existing = {
        r.id: r
        for r in await session.scalars(
            sa.select(CommissionRate).where(
                CommissionRate.tenant_id == tenant.id, CommissionRate.id.in_(ids)
            )
        )
    }
    errors: list[FieldError] = []
    plans: list[tuple[CommissionRate | None, Entry]] = []
    seen: set[uuid.UUID] = set()
    for i, row in enumerate(data.rates):
        where: Loc = ("rates", i)
        target = None
        if row.id is not None:
            target = existing.get(row.id)
            if target is None:
                errors.append(FieldError((*BODY, *where, "id"), f"no commission rate {row.id}"))
                continue
            if row.id in seen:
                errors.append(FieldError((*BODY, *where, "id"), "given more than once"))
                continue
            seen.add(row.id)
            if row.version is not None and row.version != target.version:
                errors.append(
                    FieldError(
                        (*BODY, *where, "version"),
                        f"the rate is at version {target.version}, not {row.version}",
                    )
                )
                continue
        fresh = s.CommissionRateIn.model_validate(
            row.model_dump(include=set(s.CommissionRateIn.model_fields))
        )
        try:
            entry = await check(session, tenant, RATE, fresh, loc=where)
        except Invalid as exc:
            errors += exc.errors
            continue
        plans.append((target, entry))
    raise_if_any(errors)
    result = s.BulkResult(created=[], updated=[], unchanged=[])
    for target, entry in plans:
        if target is not None and RATE.editing.same(target, entry):
            result.unchanged.append(target.id)
            continue
        saved = await RATE.editing.save(
            session, tenant_id=tenant.id, obj=target, values=entry, actor=actor
        )
        (result.created if target is None else result.updated).append(saved.id)
    return result
