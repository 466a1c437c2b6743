from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from offerengine.auth.deps import RUNTIME_NEEDS_TENANT, RuntimeCaller
from offerengine.deps import Ctx
from offerengine.errors import Forbidden
from offerengine.snapshots.core import Snapshot


async def runtime_snapshot(principal: RuntimeCaller, ctx: Ctx) -> Snapshot:
    """The compiled configuration of the caller's tenant: run time never queries configuration."""
    if principal.tenant_id is None:
        raise Forbidden(RUNTIME_NEEDS_TENANT)
    return await ctx.snapshots.get(principal.tenant_id)


RuntimeSnapshot = Annotated[Snapshot, Depends(runtime_snapshot)]
