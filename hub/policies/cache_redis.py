"""`RedisCache`: the response cache in Redis, shared by every gateway, invalidated by tags
atomically, with the in-flight guard of `begin()`/`set(since=...)` holding across processes.

Keys, under `<prefix>:cache:`:
- `entry:<key>`: a cached response, expiring with its TTL (Redis's own expiry);
- `tag:<tag>`: the set of entry keys that show the tag (expires with its longest entry);
- `seq`: the invalidation sequence, incremented by each invalidation; `invalidated`: a hash
  of the sequence at which each tag was last invalidated; `floor`: tags not in the hash were
  last invalidated at or before it (the hash is dropped, and the floor raised, when it
  tracks more than `max_tracked_tags` tags; `clear` raises it too), as in `MemoryCache`;
- `expiry`, `sizes`, `bytes`: the entries by expiry time, their sizes and the sum, for the
  byte bound and the stats.

Every operation is one Lua script, so an invalidation (bump the sequence, record the tags,
delete their entries) is atomic, and a `set` checks the guard and stores in one step: a read
that began before an invalidation of a tag it shows (anywhere) stores nothing.

`begin()` is synchronous (the read path calls it between its cache miss and the backend
call), so it cannot ask Redis. It returns the highest sequence this process has seen in a
Redis reply; every script replies with the current one, and the `get` that precedes each
`begin` in the read path has just refreshed it. That value is never above the true sequence
at the time of `begin`, so the guard is never weaker than with a round trip; a process that
has not talked to Redis for a while only refuses to store a little more often.

The byte bound: `max_bytes` is kept by the `set` script, dropping the entries that expire
soonest (for one TTL: the oldest), not the least recently used. The operator's Redis
`maxmemory` is the backstop; with a Redis shared with the event bus, use the
`volatile-lru` policy: cache entries carry TTLs and may be evicted, the event stream and the
invalidation records carry none and are kept (docs/policies.md).

When Redis fails, the cache answers nothing and stores nothing (reads go to the backends),
and since invalidations may have been lost meanwhile, the process clears the shared cache
before using it again (logged once each way; `failures` counts the failed operations).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.policies.cache import ENTRY_OVERHEAD, CacheStats

_logger = logging.getLogger(__name__)

# Shared by the scripts: KEYS[1..4] are seq, expiry, sizes, bytes in each of them.
_COMMON = """
local seq_key, expiry_key, sizes_key, bytes_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local function forget(key)
  if redis.call('ZREM', expiry_key, key) == 1 then
    local size = redis.call('HGET', sizes_key, key)
    redis.call('HDEL', sizes_key, key)
    if size then redis.call('DECRBY', bytes_key, size) end
  end
end
local function drop(key)
  redis.call('DEL', key)
  forget(key)
end
local function state(result)
  return {result, redis.call('GET', seq_key) or '0', redis.call('ZCARD', expiry_key),
          redis.call('GET', bytes_key) or '0'}
end
"""

# KEYS[5]: the entry. Returns the value (or false) and the state.
_GET = (
    _COMMON
    + """
return state(redis.call('GET', KEYS[5]))
"""
)

# KEYS[5]: floor; KEYS[6]: invalidated; KEYS[7]: the entry; KEYS[8..]: the tag sets.
# ARGV[1]: value; ARGV[2]: TTL (ms); ARGV[3]: since; ARGV[4]: max bytes; ARGV[5]: size;
# ARGV[6..]: the tags. Returns 1 if stored, and the state.
_SET = (
    _COMMON
    + """
local since = tonumber(ARGV[3])
if since < tonumber(redis.call('GET', KEYS[5]) or '0') then return state(0) end
for i = 6, #ARGV do
  local at = redis.call('HGET', KEYS[6], ARGV[i])
  if at and tonumber(at) > since then return state(0) end
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
for _, key in ipairs(redis.call('ZRANGEBYSCORE', expiry_key, '-inf', now)) do forget(key) end
local entry, ttl, size = KEYS[7], tonumber(ARGV[2]), tonumber(ARGV[5])
forget(entry)
redis.call('SET', entry, ARGV[1], 'PX', ttl)
redis.call('ZADD', expiry_key, now + ttl, entry)
redis.call('HSET', sizes_key, entry, size)
redis.call('INCRBY', bytes_key, size)
for i = 8, #KEYS do
  redis.call('SADD', KEYS[i], entry)
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
while tonumber(redis.call('GET', bytes_key)) > tonumber(ARGV[4]) do
  local soonest = redis.call('ZRANGE', expiry_key, 0, 0)[1]
  if not soonest then
    redis.call('SET', bytes_key, 0)  -- the sum drifted (entries evicted by maxmemory)
    break
  end
  drop(soonest)
end
return state(1)
"""
)

# KEYS[5]: floor; KEYS[6]: invalidated; KEYS[7..]: the tag sets. ARGV[1]: max tracked
# tags; ARGV[2..]: the tags. Returns the state.
_INVALIDATE = (
    _COMMON
    + """
local seq = redis.call('INCR', seq_key)
for i = 2, #ARGV do redis.call('HSET', KEYS[6], ARGV[i], seq) end
for i = 7, #KEYS do
  for _, key in ipairs(redis.call('SMEMBERS', KEYS[i])) do drop(key) end
  redis.call('DEL', KEYS[i])
end
if redis.call('HLEN', KEYS[6]) > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[6])
  redis.call('SET', KEYS[5], seq)
end
return state(0)
"""
)

# KEYS[5]: floor; KEYS[6]: invalidated. Drops every entry; reads in flight store nothing.
_CLEAR = (
    _COMMON
    + """
redis.call('SET', KEYS[5], redis.call('INCR', seq_key))
redis.call('DEL', KEYS[6])
for _, key in ipairs(redis.call('ZRANGE', expiry_key, 0, -1)) do drop(key) end
return state(0)
"""
)


class RedisCache:
    """A `hub.policies.cache.Cache` in Redis under `prefix`, bounded by `max_bytes` (keys,
    values and overhead, as `MemoryCache` counts them)."""

    def __init__(
        self, client: Redis, prefix: str, *, max_bytes: int, max_tracked_tags: int = 100_000
    ) -> None:
        self._base = f"{prefix}:cache:"
        self._max_bytes = max_bytes
        self._max_tracked_tags = max_tracked_tags
        self._get = client.register_script(_GET)
        self._set = client.register_script(_SET)
        self._invalidate = client.register_script(_INVALIDATE)
        self._clear = client.register_script(_CLEAR)
        self._common = [self._key(name) for name in ("seq", "expiry", "sizes", "bytes")]
        self._guard = [self._key("floor"), self._key("invalidated")]
        self._sequence = 0
        self._entries = 0
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._dirty = False
        """Redis failed: invalidations may be lost, so the cache is cleared before use."""
        self._failing = False
        """The last operation failed (for logging the failure and the recovery once)."""
        self.failures = 0
        """Operations that failed because Redis did."""

    def begin(self) -> int:
        """See `Cache.begin`: the highest invalidation sequence seen in Redis's replies."""
        return self._sequence

    async def get(self, key: str) -> bytes | None:
        """See `Cache.get`."""
        reply = await self._run(self._get, [*self._common, self._entry(key)], [])
        value: bytes | None = reply[0] if reply else None
        if value is None:
            self._misses += 1
            return None
        self._hits += 1
        return value

    async def set(
        self, key: str, value: bytes, *, tags: Collection[str], ttl: float, since: int
    ) -> None:
        """See `Cache.set`."""
        size = len(key) + len(value) + ENTRY_OVERHEAD
        ttl_ms = round(ttl * 1000)
        if size > self._max_bytes or ttl_ms <= 0:
            return
        keys = [*self._common, *self._guard, self._entry(key), *map(self._tag, tags)]
        args: list[Any] = [value, ttl_ms, since, self._max_bytes, size, *tags]
        await self._run(self._set, keys, args)

    async def invalidate(self, tags: Collection[str]) -> None:
        """See `Cache.invalidate`."""
        keys = [*self._common, *self._guard, *map(self._tag, tags)]
        await self._run(self._invalidate, keys, [self._max_tracked_tags, *tags])

    async def clear(self) -> None:
        """See `Cache.clear`."""
        self._dirty = False
        await self._run(self._clear, [*self._common, *self._guard], [], clearing=True)

    def stats(self) -> CacheStats:
        """See `Cache.stats`: this process's hits and misses; the shared cache's entries and
        bytes as of this process's last operation."""
        return CacheStats(
            hits=self._hits, misses=self._misses, entries=self._entries, bytes=self._bytes
        )

    async def _run(
        self, script: Any, keys: list[str], args: list[Any], *, clearing: bool = False
    ) -> list[Any] | None:
        """Runs a script and takes in the state it reports; None (and the cache bypassed
        until it is cleared) when Redis fails."""
        if self._dirty and not clearing:
            await self.clear()
            if self._dirty:
                return None
        try:
            reply: list[Any] = await script(keys=keys, args=args)
        except RedisError as error:
            self.failures += 1
            self._dirty = True
            if not self._failing:
                self._failing = True
                _logger.warning("response cache: Redis failed (%s); bypassing the cache", error)
            return None
        if self._failing:
            self._failing = False
            _logger.warning("response cache: Redis answers again; the cache was cleared")
        self._sequence = max(self._sequence, int(reply[1]))
        self._entries, self._bytes = int(reply[2]), int(reply[3])
        return reply

    def _key(self, name: str) -> str:
        return self._base + name

    def _entry(self, key: str) -> str:
        return f"{self._base}entry:{key}"

    def _tag(self, tag: str) -> str:
        return f"{self._base}tag:{tag}"
