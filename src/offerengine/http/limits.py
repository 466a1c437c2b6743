"""Overload protection of the run-time app, in the order a request meets it:

1. **In flight** (:meth:`Guard.serve`, before anything costly): a worker serves at most
   ``max_in_flight`` run-time requests at once; one more is answered 503 at once, with
   ``Retry-After``, rather than queued. A queue only makes every request late: past the number
   of requests a worker finishes in a client's patience, each admitted one waits for the others'
   CPU and the client times out anyway, after the work was done.
2. **Rate limits** (:meth:`Guard.throttle`, once authentication has named the key and its
   tenant): the key's and the tenant's token buckets (:mod:`offerengine.ratelimit`); empty → 429
   with ``Retry-After`` and the IETF ``RateLimit-Policy`` and ``RateLimit`` fields
   (draft-ietf-httpapi-ratelimit-headers: ``"key";q=<burst>;w=<seconds to refill it>`` and
   ``"key";r=<requests left>;t=<seconds until the next is allowed, or until the bucket is
   full again>``).
3. **Time budget** (:meth:`Guard.budget`, around the operation): past it, a request that has not
   begun writing answers 503 and has changed nothing (:mod:`offerengine.budget`).

None of this costs a request more than a counter, a dict lookup and, when limits apply, a few
float operations (or one Redis round trip when the buckets are shared).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from offerengine import budget, ratelimit
from offerengine.http import problems
from offerengine.ratelimit import Bucket, LocalBuckets, Rate, RedisBuckets, TenantRates, Verdict
from offerengine.settings import Settings
from offerengine.snapshots.core import Snapshot

if TYPE_CHECKING:
    from offerengine.context import AppContext
    from offerengine.http.runtime import Operation


class Guard:
    """The limits of one run-time app (one worker)."""

    def __init__(
        self,
        *,
        max_in_flight: int | None = None,
        budget_seconds: float | None = None,
        budgets: Mapping[str, float] | None = None,
        key_rate: Rate | None = None,
        tenant_rate: Rate | None = None,
        redis_prefix: str = "offerengine",
    ) -> None:
        self.max_in_flight = max_in_flight if max_in_flight is not None else math.inf
        self.in_flight = 0
        self._budget_seconds = budget_seconds
        self._budgets = dict(budgets or {})
        self.budgets = budget.Budgets()  # the requests in flight, and the timer that cuts them
        self._key_rate = key_rate
        self._tenant_rate = tenant_rate
        self._prefix = redis_prefix
        # Per tenant: the configuration version, its limits, and each key's buckets.
        self._rates: dict[
            uuid.UUID, tuple[int, TenantRates, dict[uuid.UUID | None, list[Bucket]]]
        ] = {}
        self._buckets: LocalBuckets | RedisBuckets | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Guard:
        return cls(
            max_in_flight=settings.max_in_flight,
            budget_seconds=settings.time_budget_seconds,
            budgets=settings.time_budgets,
            key_rate=_default(settings.key_rate_limit_per_second, settings.key_rate_limit_burst),
            tenant_rate=_default(
                settings.tenant_rate_limit_per_second, settings.tenant_rate_limit_burst
            ),
            redis_prefix=settings.redis_prefix,
        )

    async def serve(
        self, operation: Operation, scope: Scope, receive: Receive, send: Send, context: Any
    ) -> None:
        """Serve ``operation`` unless this worker has as many run-time requests in flight as it
        may: then a 503 at once."""
        if self.in_flight >= self.max_in_flight:
            await _overloaded()(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await operation.serve(scope, receive, send, context, self)
        finally:
            self.in_flight -= 1

    def budget(self, operation_id: str) -> float | None:
        """The time budget of an operation, in seconds (None: unbounded)."""
        return self._budgets.get(operation_id, self._budget_seconds)

    async def throttle(
        self, request: Request, context: AppContext, snapshot: Snapshot
    ) -> Response | None:
        """A 429 if the caller's key or tenant has no token left, else None (one token taken
        from each of their buckets)."""
        buckets = self._buckets_of(request, snapshot)
        if not buckets:
            return None
        store = self._buckets
        if store is None:
            line = context.line
            store = self._buckets = (
                RedisBuckets(line, self._prefix) if line is not None else LocalBuckets()
            )
        found = (
            store.take(buckets) if isinstance(store, LocalBuckets) else await store.take(buckets)
        )
        return None if found.allowed else _rate_limited(buckets, found)

    def _buckets_of(self, request: Request, snapshot: Snapshot) -> list[Bucket]:
        """The buckets of the caller's key and tenant, worked out once per key and tenant
        configuration version (the names and limits do not change in between)."""
        tenant = snapshot.tenant
        key_id = request.scope["state"]["principal"].key_id
        found = self._rates.get(tenant.id)
        if found is None or found[0] != snapshot.version:
            found = self._rates[tenant.id] = (
                snapshot.version,
                ratelimit.tenant_rates(tenant.settings, snapshot.version),
                {},
            )
        _, rates, by_key = found
        buckets = by_key.get(key_id)
        if buckets is None:
            buckets = by_key[key_id] = []
            key_rate = rates.keys.get(str(key_id), self._key_rate)
            tenant_rate = rates.tenant or self._tenant_rate
            # One hash tag per tenant: a cluster keeps a request's buckets in one slot.
            if key_rate is not None:
                buckets.append((f"{{{tenant.id}}}:key:{key_id}", key_rate))
            if tenant_rate is not None:
                buckets.append((f"{{{tenant.id}}}:tenant", tenant_rate))
        return buckets


def _default(per_second: float | None, burst: int | None) -> Rate | None:
    if per_second is None:
        return None
    return Rate(per_second, burst or max(1, math.ceil(per_second)))


def _overloaded() -> Response:
    return problems.problem(
        503,
        "This worker is serving as many requests as it can; retry shortly.",
        code="overloaded",
        title="Overloaded",
        headers={"Retry-After": "1"},
    )


def _rate_limited(buckets: list[Bucket], found: Verdict) -> Response:
    """429 with the draft's fields: each applying policy, and what is left of each."""
    retry = max(1, math.ceil(found.wait))
    policies = ", ".join(f'"{_name(n)}";q={rate.burst};w={rate.window}' for n, rate in buckets)
    left = ", ".join(
        f'"{_name(n)}";r={max(0, math.floor(level))};t={_reset(rate, level)}'
        for (n, rate), level in zip(buckets, found.levels, strict=True)
    )
    empty = [_name(n) for (n, _), level in zip(buckets, found.levels, strict=True) if level < 1]
    return problems.problem(
        429,
        f"Too many requests: the {' and '.join(empty)} rate limit is reached; retry in {retry} s.",
        code="rate-limited",
        title="Too many requests",
        headers={"Retry-After": str(retry), "RateLimit-Policy": policies, "RateLimit": left},
    )


def _name(bucket: str) -> str:
    return "tenant" if bucket.endswith(":tenant") else "key"


def _reset(rate: Rate, level: float) -> int:
    """Seconds until the next request is allowed (none left), else until the bucket is full."""
    short = (1.0 - level) if level < 1.0 else (rate.burst - level)
    return max(0, math.ceil(short / rate.per_second - 1e-9))
