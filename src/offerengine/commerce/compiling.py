"""Commerce configuration compiled into the snapshot's :class:`core.CommerceIndex`.

Commission rates and fee rules are compiled from every version of the tenant's live objects (a
deleted object's versions go with it), not only the current one: a version can take effect later
than it is saved (``effective_from``), so the core's timeline picks, at each quote's time, the
version then in force. Coupons are taken as they are now. The quote settings come from the
tenant's ``quotes`` settings; a value out of range is ignored (the default applies).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.commerce import core
from offerengine.commerce.models import Coupon
from offerengine.commerce.service import COUPON, FEE_RULE, RATE, Spec
from offerengine.versioning.models import ObjectVersion


async def _histories(
    session: AsyncSession, spec: Spec[Any], tenant_id: uuid.UUID
) -> list[ObjectVersion]:
    """Every version of the tenant's live objects of ``spec`` (a deleted object's are gone from
    run time with it)."""
    live = sa.select(spec.model.id).where(spec.model.tenant_id == tenant_id)
    return list(
        await session.scalars(
            sa.select(ObjectVersion).where(
                ObjectVersion.tenant_id == tenant_id,
                ObjectVersion.object_type == spec.history_name,
                ObjectVersion.action != "delete",
                ObjectVersion.object_id.in_(live),
            )
        )
    )


def _settings(tenant_settings: Mapping[str, Any]) -> core.QuoteSettings:
    given = tenant_settings.get("quotes")
    if not isinstance(given, Mapping):
        return core.QuoteSettings()
    base = given.get("commission_base", "gross")
    logistics = given.get("default_logistics_provider")
    validity = given.get("validity_seconds")
    return core.QuoteSettings(
        commission_base="net" if base == "net" else "gross",
        default_logistics_provider=str(logistics) if logistics else None,
        validity_seconds=int(validity)
        if isinstance(validity, int) and not isinstance(validity, bool) and 60 <= validity <= 86400
        else None,
    )


async def load_index(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    tenant_settings: Mapping[str, Any],
    tagged_flags: Sequence[str] = (),
) -> core.CommerceIndex:
    """The tenant's commerce section of the snapshot; ``tagged_flags``: its flags tagged
    "quote", which every quote evaluates and echoes."""
    rates = [
        core.rate_state(v.data, v.created_at) for v in await _histories(session, RATE, tenant_id)
    ]
    fees = [
        core.fee_state(v.data, v.created_at) for v in await _histories(session, FEE_RULE, tenant_id)
    ]
    coupons = [
        core.coupon(COUPON.dump(c))
        for c in await session.scalars(sa.select(Coupon).where(Coupon.tenant_id == tenant_id))
    ]
    return core.CommerceIndex(
        rates=rates,
        fees=fees,
        coupons=coupons,
        settings=_settings(tenant_settings),
        tagged_flags=tagged_flags,
    )
