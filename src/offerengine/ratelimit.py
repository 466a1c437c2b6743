"""Rate limits: token buckets per API key and per tenant, in this worker or shared through Redis.

A limit is a rate (tokens a second) and a burst (the bucket's size): a caller may send ``burst``
requests at once, then ``per_second`` a second for as long as it likes. Each request takes one
token from every bucket that applies to it (its key's, its tenant's) or from none: a request
refused by its tenant's bucket does not also spend its key's token, and the other way round.

Where the limits come from, most specific first:

- a key's own limit, set through the API keys API and kept in its tenant's settings
  (``settings.api_key_rate_limits[<key id>]``: the key's table has no column for it, and the
  tenant's settings travel to every worker inside the tenant's snapshot anyway);
- the tenant's limit, ``settings.rate_limit``, shared by all its keys;
- the deployment's defaults (``key_rate_limit_*`` and ``tenant_rate_limit_*`` settings).

Without Redis, each worker keeps its own buckets (:class:`LocalBuckets`: a few float operations
per request; ``n`` workers allow up to ``n`` times the limit). With Redis, one Lua script per
request reads, refills and takes from all the request's buckets at once (:class:`RedisBuckets`:
one round trip over the hot path's pipelined connection, the clock being Redis's own so that
workers' clocks never disagree). If Redis cannot be reached, the worker falls back on its own
buckets for a second rather than refusing or admitting everything.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from redis.exceptions import RedisError

from offerengine.errors import FieldError, Loc, raise_if_any
from offerengine.observability.logging import get_logger
from offerengine.redis_line import RedisLine, Script
from offerengine.wording import plain

KEY_LIMITS = "api_key_rate_limits"  # tenant settings: {<key id>: RateLimit}
TENANT_LIMIT = "rate_limit"  # tenant settings: RateLimit
REDIS_RETRY_SECONDS = 1.0

log = get_logger("offerengine.ratelimit")


class RateLimit(BaseModel):
    """A token bucket: ``burst`` requests at once, then ``per_second`` a second."""

    model_config = ConfigDict(extra="forbid")

    per_second: Annotated[float, Field(gt=0, le=1_000_000, examples=[100])] = Field(
        description="Requests a second, sustained."
    )
    burst: Annotated[int, Field(ge=1, le=1_000_000, examples=[200])] | None = Field(
        default=None,
        description="Requests at once, after a quiet spell; default the rate (at least 1).",
    )

    @model_validator(mode="after")
    def _default_burst(self) -> Self:
        if self.burst is None:
            self.burst = max(1, math.ceil(self.per_second))
        return self

    def rate(self) -> Rate:
        return Rate(self.per_second, self.burst or 1)


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int

    @property
    def window(self) -> int:
        """Seconds to refill a full burst: the window of the advertised ``q=burst`` quota."""
        return max(1, math.ceil(self.burst / self.per_second))


Bucket = tuple[str, Rate]  # a bucket's name (unique per deployment) and its limit


@dataclass(frozen=True, slots=True)
class Verdict:
    """One take: admitted or not, each bucket's tokens left, and the wait for the next token."""

    allowed: bool
    levels: tuple[float, ...]
    wait: float


def verdict(buckets: Sequence[Bucket], levels: Sequence[float], allowed: bool) -> Verdict:
    wait = max(
        ((1.0 - level) / rate.per_second for (_, rate), level in zip(buckets, levels, strict=True)),
        default=0.0,
    )
    return Verdict(allowed, tuple(levels), 0.0 if allowed else max(wait, 0.0))


class LocalBuckets:
    """This worker's buckets: the state of each is its tokens and when they were counted."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, buckets: Sequence[Bucket]) -> Verdict:
        now = self._clock()
        state = self._state
        levels = []
        allowed = True
        for name, rate in buckets:
            found = state.get(name)
            if found is None:
                level = float(rate.burst)
            else:
                level = found[0] + (now - found[1]) * rate.per_second
                if level > rate.burst:
                    level = float(rate.burst)
            if level < 1.0:
                allowed = False
            levels.append(level)
        if not allowed:
            return verdict(buckets, levels, allowed)
        for i, (name, _) in enumerate(buckets):
            levels[i] -= 1.0
            state[name] = (levels[i], now)
        return Verdict(True, tuple(levels), 0.0)


# KEYS: the buckets; ARGV: each bucket's rate and burst. Returns 1 or 0, then each bucket's
# tokens left as text (Lua numbers would come back truncated to integers). A refusal writes
# nothing: the tokens it saw follow from what is stored and the clock.
_TAKE = Script("""
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local levels, allowed = {}, 1
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local found = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local level = burst
  if found[1] then
    level = math.min(burst, tonumber(found[1]) + math.max(0, now - tonumber(found[2])) * rate)
  end
  levels[i] = level
  if level < 1 then allowed = 0 end
end
local out = {allowed}
for i = 1, #KEYS do
  local level = levels[i]
  if allowed == 1 then
    level = level - 1
    local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
    redis.call('HSET', KEYS[i], 'tokens', tostring(level), 'at', tostring(now))
    redis.call('PEXPIRE', KEYS[i], math.ceil((burst - level) / rate * 1000) + 1)
  end
  out[i + 1] = tostring(level)
end
return out
""")


class RedisBuckets:
    """Buckets every worker shares, one script run per take (see the module's doc)."""

    def __init__(self, line: RedisLine, prefix: str) -> None:
        self._line = line
        self._prefix = prefix
        self._local = LocalBuckets()
        self._away_until = 0.0

    async def take(self, buckets: Sequence[Bucket]) -> Verdict:
        if self._away_until and time.monotonic() < self._away_until:
            return self._local.take(buckets)
        keys = [f"{self._prefix}:rate:{name}" for name, _ in buckets]
        args: list[float | int] = []
        for _, rate in buckets:
            args += [rate.per_second, rate.burst]
        try:
            reply = await self._line.evalsha(_TAKE, keys, args)
        except RedisError as exc:
            if not self._away_until:
                log.warning("rate_limits_local", reason=str(exc))
            self._away_until = time.monotonic() + REDIS_RETRY_SECONDS
            return self._local.take(buckets)
        self._away_until = 0.0
        return verdict(buckets, [float(level) for level in reply[1:]], int(reply[0]) == 1)


@dataclass(frozen=True, slots=True)
class TenantRates:
    """A tenant's limits as one snapshot of its settings says: its own, and its keys'."""

    version: int
    tenant: Rate | None
    keys: Mapping[str, Rate]


def tenant_rates(settings: Mapping[str, Any], version: int) -> TenantRates:
    """The limits in a tenant's settings. They were checked when saved (:func:`check_settings`);
    one that no longer reads as a limit is ignored rather than failing every request."""
    keys: dict[str, Rate] = {}
    found = settings.get(KEY_LIMITS)
    if isinstance(found, Mapping):
        for key_id, value in found.items():
            if (rate := _rate(value)) is not None:
                keys[str(key_id)] = rate
    return TenantRates(version, _rate(settings.get(TENANT_LIMIT)), keys)


def _rate(value: Any) -> Rate | None:
    if value is None:
        return None
    try:
        return RateLimit.model_validate(value).rate()
    except ValidationError:
        return None


def check_settings(settings: dict[str, Any], where: Loc = ("body", "settings")) -> dict[str, Any]:
    """A tenant's settings with their limits checked (the tenant's ``rate_limit``, and each
    key's in ``api_key_rate_limits``) and written out in full; :class:`Invalid` naming the field
    at fault otherwise."""
    found: list[FieldError] = []
    checked = dict(settings)
    if settings.get(TENANT_LIMIT) is not None:
        checked[TENANT_LIMIT] = _checked(settings[TENANT_LIMIT], (*where, TENANT_LIMIT), found)
    keys = settings.get(KEY_LIMITS)
    if isinstance(keys, dict):
        checked[KEY_LIMITS] = {
            str(k): _checked(v, (*where, KEY_LIMITS, k), found) for k, v in keys.items()
        }
    elif keys is not None:
        found.append(FieldError((*where, KEY_LIMITS), "maps API key ids to rate limits"))
    raise_if_any(found)
    return checked


def _checked(value: Any, where: Loc, found: list[FieldError]) -> Any:
    try:
        return RateLimit.model_validate(value).model_dump()
    except ValidationError as exc:
        found += [
            FieldError((*where, *e["loc"]), plain(e), e["type"])
            for e in exc.errors(include_url=False)
        ]
        return value
