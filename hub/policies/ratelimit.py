"""Rate limiting: a token bucket per caller and per RPC, behind a store interface.

The bucket is kept as GCRA (the generic cell rate algorithm), the token bucket written as
one number per key, the "theoretical arrival time" (TAT): a bucket of `burst` tokens that
refills at `rate` tokens per second admits a call at time `now` when
`max(TAT, now) + 1/rate - burst/rate <= now`, and the call moves TAT on by `1/rate`. One
number per key makes the check a single atomic read-modify-write, which is what a shared
store needs (a Redis implementation is one short script; the `limits` library has no token
bucket, so the algorithm is here).

The key is the principal's subject, or the client's address for anonymous calls, with the
RPC: one bucket per caller and route whatever the front end, so 100 calls over REST and gRPC
together count as 100.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Limit:
    """`burst` calls at once, refilled at `rate` calls per second."""

    rate: float
    burst: int

    @property
    def window_seconds(self) -> float:
        """How long an empty bucket takes to fill."""
        return self.burst / self.rate


@dataclass(frozen=True)
class Decision:
    """The answer for one call."""

    allowed: bool
    remaining: int
    """Calls the bucket would still admit right now."""
    retry_after: float
    """Seconds until the next call would be admitted (0 when allowed)."""
    reset: float
    """Seconds until the bucket is full again."""


class RateLimitStore(Protocol):
    """Where the buckets live: in this process (`MemoryRateLimitStore`), or in Redis, shared
    by every gateway (`ratelimit_redis.RedisRateLimitStore`)."""

    async def hit(self, key: str, limit: Limit) -> Decision:
        """Takes one token from `key`'s bucket if it has one; atomic per key."""


def gcra(now: float, tat: float | None, limit: Limit) -> tuple[Decision, float | None]:
    """One GCRA step: the decision for a call at `now` on a bucket whose theoretical arrival
    time is `tat` (None: a new bucket, full), and the bucket's new TAT (None: refused, the
    bucket is unchanged). Every store takes this step atomically per key."""
    interval = 1.0 / limit.rate
    tat = now if tat is None else max(tat, now)
    allow_at = tat + interval - limit.burst * interval
    if allow_at > now:
        return Decision(
            allowed=False, remaining=0, retry_after=allow_at - now, reset=tat - now
        ), None
    new_tat = tat + interval
    remaining = math.floor((now - (new_tat - limit.burst * interval)) / interval + 1e-9)
    return Decision(
        allowed=True, remaining=remaining, retry_after=0.0, reset=new_tat - now
    ), new_tat


class MemoryRateLimitStore:
    """Buckets in this process, at most `max_keys` of them. When full, the least recently
    used bucket is forgotten (a full bucket loses nothing by that; a draining one lets its
    caller start afresh, the price of the memory bound)."""

    def __init__(self, *, max_keys: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_keys = max_keys
        self._clock = clock
        self._tats: OrderedDict[str, float] = OrderedDict()

    async def hit(self, key: str, limit: Limit) -> Decision:
        """See `RateLimitStore.hit`."""
        decision, new_tat = gcra(self._clock(), self._tats.get(key), limit)
        if new_tat is not None:
            self._tats[key] = new_tat
            self._tats.move_to_end(key)
            if len(self._tats) > self._max_keys:
                self._tats.popitem(last=False)
        return decision


class RateLimiter:
    """The buckets of every RPC (`limits`, by wire path) in `store`."""

    def __init__(self, store: RateLimitStore, limits: Mapping[str, Limit]) -> None:
        self._store = store
        self._limits = dict(limits)

    async def hit(self, caller: str, path: str) -> tuple[Decision, Limit] | None:
        """Takes a token from the bucket of `caller` (a principal's subject, or `addr:<ip>`)
        for the RPC at `path`; None when no limit applies to it."""
        limit = self._limits.get(path)
        if limit is None:
            return None
        return await self._store.hit(f"{caller}|{path}", limit), limit
