"""What only the Redis rate-limit store does: gateways with their own connections share each
bucket (together they admit what one would), the refill runs on the Redis server's clock,
idle buckets expire, and a Redis that fails lets calls through (logged once)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Redis

from hub.policies.ratelimit import Limit, RateLimiter
from hub.policies.ratelimit_redis import RedisRateLimitStore
from tests.redisdb import RedisSpace, connect, unused_port

NO_REFILL = Limit(rate=0.001, burst=10)
"""Ten calls, then one more every 1000 s: nothing refills during a test."""


async def test_two_gateways_together_admit_what_one_would(keyspace: RedisSpace) -> None:
    """Two gateways (each its own client and connections) take from the same buckets, at
    the same time: together they admit the burst once, not once each."""
    clients = [connect(), connect()]
    limits = {"/s/Get": NO_REFILL}
    gateways = [RateLimiter(RedisRateLimitStore(c, keyspace.prefix), limits) for c in clients]
    alone = RateLimiter(RedisRateLimitStore(keyspace.client, keyspace.prefix), limits)
    try:

        async def call(limiter: RateLimiter, caller: str) -> bool:
            answer = await limiter.hit(caller, "/s/Get")
            assert answer is not None
            return answer[0].allowed

        together = await asyncio.gather(
            *(call(gateways[n % 2], "ada") for n in range(30)),
        )
        one = [await call(alone, "bob") for _ in range(30)]
    finally:
        for client in clients:
            await client.aclose()

    assert (10, 10) == (sum(together), sum(one))
    assert [True] * 10 + [False] * 20 == one


async def test_the_refill_runs_on_the_redis_servers_clock(keyspace: RedisSpace) -> None:
    """No clock given: the script reads `TIME`. A bucket whose arrival time is 100 s ahead of
    the server's clock refuses with a retry of (a little under) 100 s."""
    store = RedisRateLimitStore(keyspace.client, keyspace.prefix)
    seconds, micros = await keyspace.client.time()
    await keyspace.client.set(
        keyspace.key("ratelimit:ada|/s/Get"), repr(seconds + micros / 1e6 + 100)
    )

    decision = await store.hit("ada|/s/Get", Limit(rate=1.0, burst=1))

    assert not decision.allowed
    assert 99 < decision.retry_after <= 100


async def test_a_bucket_expires_when_it_would_be_full_again(keyspace: RedisSpace) -> None:
    store = RedisRateLimitStore(keyspace.client, keyspace.prefix)
    await store.hit("ada|/s/Get", Limit(rate=0.01, burst=5))  # full again in 100 s

    ttl_ms = await keyspace.client.pttl(keyspace.key("ratelimit:ada|/s/Get"))

    assert 0 < ttl_ms <= 100_000


async def test_calls_are_admitted_while_redis_fails(caplog: pytest.LogCaptureFixture) -> None:
    client = Redis.from_url(f"redis://127.0.0.1:{unused_port()}/0", socket_connect_timeout=1)
    store = RedisRateLimitStore(client, "hub")
    try:
        with caplog.at_level(logging.WARNING, logger="hub.policies.ratelimit_redis"):
            decisions = [
                await store.hit("ada|/s/Get", Limit(rate=0.001, burst=1)) for _ in range(3)
            ]
    finally:
        await client.aclose()

    assert [True, True, True] == [decision.allowed for decision in decisions]
    assert 3 == store.failures
    assert 1 == len(caplog.records)
    assert "admitting calls" in caplog.records[0].getMessage()


async def test_a_bucket_faster_than_the_clocks_resolution_is_still_kept(
    keyspace: RedisSpace,
) -> None:
    """A token interval below what the time (seconds since 1970, a double) can tell apart
    leaves the bucket's expiry at its least (1 ms), not at an invalid 0."""
    store = RedisRateLimitStore(keyspace.client, keyspace.prefix)

    decisions = [await store.hit("ada|/s/Get", Limit(rate=1e9, burst=3)) for _ in range(3)]

    assert [True, True, True] == [decision.allowed for decision in decisions]
    assert 0 == store.failures
