"""`RedisRateLimitStore`: the token buckets in Redis, shared by every gateway, so N gateways
together admit what one would.

Each bucket is one key, `<prefix>:ratelimit:<caller>|<rpc>`, holding its theoretical arrival
time (GCRA, see ratelimit.py) in seconds. One Lua script reads it, decides and writes it back,
atomically: two gateways hitting the same bucket at once are serialized by Redis, and no
token is spent twice. The key expires when the bucket would be full again, so idle buckets
cost nothing and need no bound of their own.

The clock is Redis's (`TIME`, in the script): every gateway measures the refill against the
same clock, so clock skew between gateway hosts changes nothing (a gateway whose clock runs
ahead would otherwise refill every bucket it touches early). Tests may pass a `clock` to
drive time themselves.

When Redis fails (down, or slower than the client's timeout) the store admits the call: the
limit protects the backends from overload by a caller, it is not an access control, and a
shared-state outage should not become an outage of the whole API (Envoy's global rate limit
fails open the same way). The first failure and the recovery are logged; `failures` counts
the calls admitted so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.policies.ratelimit import Decision, Limit, gcra

_logger = logging.getLogger(__name__)

# KEYS[1]: the bucket. ARGV[1]: seconds per token (1/rate); ARGV[2]: burst; ARGV[3]: now in
# seconds, or "" for the server's clock. The same step as `gcra`; returns the time used and
# the TAT found (or "" for a new bucket), as text: Lua numbers would be cut to integers.
_HIT = """
local now
if ARGV[3] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) + tonumber(time[2]) / 1000000
else
  now = tonumber(ARGV[3])
end
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local found = redis.call('GET', KEYS[1])
local tat = now
if found and tonumber(found) > now then
  tat = tonumber(found)
end
if tat + interval - burst * interval <= now then
  local new_tat = tat + interval
  redis.call('SET', KEYS[1], string.format('%.17g', new_tat),
             'PX', math.ceil((new_tat - now) * 1000))
end
return {string.format('%.17g', now), found or ''}
"""


class RedisRateLimitStore:
    """A `hub.policies.ratelimit.RateLimitStore` in Redis, under `prefix`. `clock`: None for
    the Redis server's clock (what a deployment uses), or a function for tests."""

    def __init__(
        self, client: Redis, prefix: str, *, clock: Callable[[], float] | None = None
    ) -> None:
        self._script = client.register_script(_HIT)
        self._prefix = f"{prefix}:ratelimit:"
        self._clock = clock
        self._failing = False
        self.failures = 0
        """Calls admitted because Redis could not be asked."""

    async def hit(self, key: str, limit: Limit) -> Decision:
        """See `RateLimitStore.hit`; admits the call when Redis fails."""
        now = "" if self._clock is None else repr(self._clock())
        try:
            reply = await self._script(
                keys=[self._prefix + key], args=[repr(1.0 / limit.rate), limit.burst, now]
            )
        except RedisError as error:
            self.failures += 1
            if not self._failing:
                self._failing = True
                _logger.warning("rate limiting: Redis failed (%s); admitting calls", error)
            return Decision(allowed=True, remaining=0, retry_after=0.0, reset=0.0)
        if self._failing:
            self._failing = False
            _logger.warning("rate limiting: Redis answers again; limiting calls")
        used, found = reply
        return gcra(float(used), float(found) if found else None, limit)[0]
