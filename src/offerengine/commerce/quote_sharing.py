"""Quotes shared between workers through Redis, by tenant and request hash, while valid.

A quote is put there when made (unless another worker's is already there), found there by a
worker that has no quote for an identical request, and taken away once accepted. Redis away
costs only new quotes: every call here logs the error and carries on as if nothing were shared.
Without Redis (``ctx.line`` and ``ctx.redis`` unset) nothing is shared.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from offerengine.commerce.cache import Cached
from offerengine.observability.logging import get_logger

if TYPE_CHECKING:
    from offerengine.context import AppContext

log = get_logger("offerengine.quotes")


def _redis_key(prefix: str, tenant_id: uuid.UUID, digest: str) -> str:
    return f"{prefix}:quote:{tenant_id}:{digest}"


async def shared(
    ctx: AppContext, tenant_id: uuid.UUID, digest: str, now: datetime
) -> Cached | None:
    """The quote another worker made for this request, when workers share them through Redis
    (over the hot path's pipelined connection)."""
    if ctx.line is None:
        return None
    try:
        found = await ctx.line.execute(
            "GET", _redis_key(ctx.settings.redis_prefix, tenant_id, digest)
        )
    except RedisError as exc:  # a missing shared copy only costs a new quote
        log.warning("quote_cache_unavailable", error=str(exc))
        return None
    if found is None:
        return None
    raw = found.encode() if isinstance(found, str) else found
    quote_id, valid_until, data = raw.split(b"\n", 2)
    cached = Cached(
        uuid.UUID(quote_id.decode()), datetime.fromisoformat(valid_until.decode()), data
    )
    return cached if cached.valid_until > now else None


async def share(
    ctx: AppContext, tenant_id: uuid.UUID, digest: str, cached: Cached, now: datetime
) -> None:
    """Offer a new quote to every worker, until it expires (the first worker's stays)."""
    if ctx.line is None:
        return
    value = b"\n".join(
        (str(cached.quote_id).encode(), cached.valid_until.isoformat().encode(), cached.data)
    )
    ttl = max(1, int((cached.valid_until - now).total_seconds() * 1000))
    try:
        await ctx.line.execute(
            "SET", _redis_key(ctx.settings.redis_prefix, tenant_id, digest), value, "PX", ttl, "NX"
        )
    except RedisError as exc:
        log.warning("quote_cache_unavailable", error=str(exc))


async def unshare(ctx: AppContext, tenant_id: uuid.UUID, digest: str) -> None:
    """An accepted quote is no longer offered to an identical request, by any worker."""
    if ctx.redis is None:
        return
    try:
        await ctx.redis.delete(_redis_key(ctx.settings.redis_prefix, tenant_id, digest))
    except RedisError as exc:
        log.warning("quote_cache_unavailable", error=str(exc))
