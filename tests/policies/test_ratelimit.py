"""The token bucket (GCRA) on a fake clock, in each store (in memory, and in the real Redis):
a burst, the refill rate, the numbers a refusal reports; the memory store's bound. What only
the Redis store does (several gateways, its own clock, Redis failing) is in
test_ratelimit_redis.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest

from hub.policies.ratelimit import (
    Decision,
    Limit,
    MemoryRateLimitStore,
    RateLimiter,
    RateLimitStore,
)
from hub.policies.ratelimit_redis import RedisRateLimitStore
from tests.redisdb import redis_space

StoreMaker = Callable[["Clock"], RateLimitStore]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def new_store(request: pytest.FixtureRequest) -> AsyncIterator[StoreMaker]:
    """Makes stores of one kind on a given clock (Redis: in this test's key space)."""
    async with AsyncExitStack() as stack:
        if request.param == "memory":
            yield lambda clock: MemoryRateLimitStore(max_keys=10, clock=clock)
        else:
            space = await stack.enter_async_context(redis_space())
            yield lambda clock: RedisRateLimitStore(space.client, space.prefix, clock=clock)


async def test_a_full_bucket_admits_a_burst_then_refuses_until_a_token_returns(
    new_store: StoreMaker,
) -> None:
    clock = Clock()
    store = new_store(clock)
    limit = Limit(rate=2.0, burst=3)

    admitted = [await store.hit("k", limit) for _ in range(3)]
    refused = await store.hit("k", limit)
    clock.now += 0.5
    again = await store.hit("k", limit)

    assert [2, 1, 0] == [decision.remaining for decision in admitted]
    assert all(decision.allowed for decision in admitted)
    assert Decision(allowed=False, remaining=0, retry_after=0.5, reset=1.5) == refused
    assert (True, 0) == (again.allowed, again.remaining)


async def test_the_bucket_refills_at_the_rate_up_to_the_burst(new_store: StoreMaker) -> None:
    clock = Clock()
    store = new_store(clock)
    limit = Limit(rate=1.0, burst=2)
    for _ in range(2):
        await store.hit("k", limit)
    clock.now += 60  # far longer than a refill: the bucket holds `burst`, not more

    decisions = [await store.hit("k", limit) for _ in range(3)]

    assert [True, True, False] == [decision.allowed for decision in decisions]


async def test_keys_have_their_own_buckets(new_store: StoreMaker) -> None:
    store = new_store(Clock())
    limit = Limit(rate=1.0, burst=1)

    assert (await store.hit("a", limit)).allowed
    assert not (await store.hit("a", limit)).allowed
    assert (await store.hit("b", limit)).allowed


async def test_beyond_max_keys_the_least_recently_used_bucket_is_forgotten() -> None:
    store = MemoryRateLimitStore(max_keys=2, clock=Clock())
    limit = Limit(rate=1.0, burst=1)
    for key in ("a", "b", "c"):
        await store.hit(key, limit)

    assert (await store.hit("a", limit)).allowed  # "a" was forgotten: a full bucket again
    assert not (await store.hit("c", limit)).allowed


async def test_the_limiter_keys_by_caller_and_rpc(new_store: StoreMaker) -> None:
    store = new_store(Clock())
    limiter = RateLimiter(store, {"/s/A": Limit(1.0, 1), "/s/B": Limit(1.0, 1)})

    first = await limiter.hit("u1", "/s/A")
    assert first is not None
    assert first[0].allowed
    second = await limiter.hit("u1", "/s/A")
    assert second is not None
    assert not second[0].allowed
    other_rpc = await limiter.hit("u1", "/s/B")
    assert other_rpc is not None
    assert other_rpc[0].allowed
    assert None is await limiter.hit("u1", "/s/Unlimited")


@pytest.mark.parametrize(("rate", "burst", "window"), [(2.0, 10, 5.0), (0.5, 1, 2.0)])
def test_the_window_is_the_time_to_fill_an_empty_bucket(
    rate: float, burst: int, window: float
) -> None:
    assert window == Limit(rate, burst).window_seconds
