"""The login throttle's counts in Redis, so that every worker of a deployment sees the same ones.

Each count is a hash (``n``: failures, ``t``: the last one's wall time) under
``<redis_prefix>:{login}:…``; the ``{login}`` hash tag keeps an attempt's three counts in one
cluster slot, for the scripts. Checking and counting is one Lua script, so that concurrent
attempts on several workers cannot all slip through before any of them is counted; the same
rule as :class:`offerengine.auth.throttle.MemoryFailures`, in Lua. Every key expires ``forget``
seconds after its last failure. A Redis that does not answer is :class:`Unavailable` (a 503):
logins wait for it rather than go unthrottled.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from offerengine.auth.throttle import Count, Taken
from offerengine.errors import Unavailable

# KEYS: the counts. ARGV[1]: now; then per count: refuses (1/0), free, base, cap, forget (ms).
_TAKE = """
local now = tonumber(ARGV[1])
local wait = 0
local failures = {}
for i, key in ipairs(KEYS) do
  local at = 1 + (i - 1) * 5
  local found = redis.call('HMGET', key, 'n', 't')
  local n = math.max(tonumber(found[1]) or 0, 0)
  local last = tonumber(found[2]) or 0
  local free = tonumber(ARGV[at + 2])
  failures[i] = n
  if ARGV[at + 1] == '1' and n >= free then
    local delay = tonumber(ARGV[at + 3]) * 2 ^ math.min(n - free, 64)
    delay = math.min(delay, tonumber(ARGV[at + 4]))
    wait = math.max(wait, last + delay - now)
  end
end
if wait <= 0 then
  wait = 0
  for i, key in ipairs(KEYS) do
    redis.call('HINCRBY', key, 'n', 1)
    redis.call('HSET', key, 't', ARGV[1])
    redis.call('PEXPIRE', key, ARGV[1 + (i - 1) * 5 + 5])
  end
end
local reply = {tostring(wait)}
for i = 1, #failures do reply[i + 1] = failures[i] end
return reply
"""

# KEYS: the counts dropped, then those that get a failure back. ARGV[1]: how many are dropped.
_SETTLE = """
local dropped = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if i <= dropped then
    redis.call('DEL', key)
  elseif redis.call('EXISTS', key) == 1 and redis.call('HINCRBY', key, 'n', -1) < 0 then
    redis.call('HSET', key, 'n', 0)
  end
end
return 0
"""


class RedisFailures:
    """Failed-login counts shared by every worker through one Redis and key prefix."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._prefix = f"{prefix}:{{login}}:"
        self._take = redis.register_script(_TAKE)
        self._settle = redis.register_script(_SETTLE)

    async def take(self, counts: Sequence[Count], now: float) -> Taken:
        args: list[str | int] = [repr(now)]
        for count in counts:
            backoff = count.backoff
            args += [int(count.refuses), backoff.free, repr(backoff.base), repr(backoff.cap)]
            args.append(max(int(backoff.forget * 1000), 1))
        try:
            reply = await self._take(keys=[self._prefix + c.key for c in counts], args=args)
        except (RedisError, OSError) as exc:
            raise Unavailable("Logins are throttled through Redis, which does not answer.") from exc
        wait = float(reply[0].decode() if isinstance(reply[0], bytes) else reply[0])
        return Taken(max(wait, 0.0), tuple(int(n) for n in reply[1:]))

    async def settle(self, *, clear: Sequence[str], take_back: Sequence[str]) -> None:
        keys = [self._prefix + key for key in (*clear, *take_back)]
        try:
            await self._settle(keys=keys, args=[len(clear)])
        except (RedisError, OSError) as exc:
            raise Unavailable("Logins are throttled through Redis, which does not answer.") from exc
