"""API keys' own rate limits: kept in their tenant's settings (``api_key_rate_limits``).

The key's table has no column for a limit, and a migration is not worth one: the tenant's
settings reach every worker inside the tenant's compiled snapshot, which is where the run-time
app reads limits (see :mod:`offerengine.ratelimit`), so a change is seen everywhere as any
configuration change is. Setting a key's limit is a change to its tenant: it moves the tenant's
version and is audited as the key's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from offerengine import ratelimit
from offerengine.auth.core import Actor
from offerengine.auth.models import ApiKey
from offerengine.ratelimit import KEY_LIMITS, RateLimit
from offerengine.snapshots import service as snapshots
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning


def rate_limits(tenant: Tenant) -> dict[str, RateLimit]:
    """The tenant's keys' own limits, by key id (as text); they were checked when saved."""
    return {
        key_id: RateLimit(per_second=rate.per_second, burst=rate.burst)
        for key_id, rate in ratelimit.tenant_rates(tenant.settings, 0).keys.items()
    }


async def set_rate_limit(
    session: AsyncSession,
    *,
    tenant: Tenant,
    key: ApiKey,
    rate_limit: RateLimit | None,
    actor: Actor,
) -> None:
    """Give ``key`` its own limit, or take it away (None: the tenant's and deployment's apply)."""
    limits: dict[str, Any] = dict(tenant.settings.get(KEY_LIMITS) or {})
    before = limits.get(str(key.id))
    after = rate_limit.model_dump() if rate_limit is not None else None
    if before == after:
        return
    if after is None:
        limits.pop(str(key.id), None)
    else:
        limits[str(key.id)] = after
    settings = {k: v for k, v in tenant.settings.items() if k != KEY_LIMITS}
    tenant.settings = {**settings, KEY_LIMITS: limits} if limits else settings
    versioning.bump(tenant)
    await session.flush()
    versioning.audit(
        session,
        actor=actor,
        action="api_key.update",
        tenant_id=tenant.id,
        object_type="api_key",
        object_id=key.id,
        before={"rate_limit": before},
        after={"rate_limit": after},
    )
    snapshots.mark_config_changed(session, tenant.id)
