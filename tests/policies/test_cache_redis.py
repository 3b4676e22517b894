"""What only the Redis cache does: gateways with their own connections share entries; an
invalidation through one is seen at once by another, and its in-flight guard holds across
them; entries carry their TTL; the byte bound drops the entries that expire soonest; and a
Redis that fails is bypassed, then the cache is cleared before it is used again (on a
redis-server of the test's own, stopped and started again)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from hub.config import Redis as RedisSettings
from hub.policies.cache import ENTRY_OVERHEAD, CacheStats
from hub.policies.cache_redis import RedisCache
from hub.redisconn import connect as connect_redis
from tests.redisdb import RedisSpace, connect, redis_server, unused_port


@asynccontextmanager
async def gateway(keyspace: RedisSpace, max_bytes: int = 100_000) -> AsyncIterator[RedisCache]:
    """The cache of another gateway: a client (and connections) of its own."""
    client = connect()
    try:
        yield RedisCache(client, keyspace.prefix, max_bytes=max_bytes)
    finally:
        await client.aclose()


async def test_an_entry_stored_by_one_gateway_is_served_by_another(keyspace: RedisSpace) -> None:
    async with gateway(keyspace) as a, gateway(keyspace) as b:
        await a.set("k", b"v", tags=("users/1",), ttl=60, since=a.begin())

        assert b"v" == await b.get("k")
        assert CacheStats(hits=1, misses=0, entries=1, bytes=1 + 1 + ENTRY_OVERHEAD) == b.stats()


async def test_an_invalidation_through_one_gateway_is_seen_at_once_by_another(
    keyspace: RedisSpace,
) -> None:
    async with gateway(keyspace) as a, gateway(keyspace) as b:
        since = b.begin()
        await b.set("user", b"old", tags=("users/1",), ttl=60, since=since)
        await b.set("other", b"2", tags=("users/2",), ttl=60, since=since)

        await a.invalidate(("users/1",))

        assert (None, b"2") == (await b.get("user"), await b.get("other"))


async def test_a_read_on_one_gateway_that_raced_a_write_on_another_stores_nothing(
    keyspace: RedisSpace,
) -> None:
    async with gateway(keyspace) as a, gateway(keyspace) as b:
        await a.invalidate(("users/9",))  # history: the sequence is past 0
        assert None is await b.get("user")  # the read path: a miss, then begin
        since = b.begin()
        await a.invalidate(("users/1",))  # a write on gateway A commits meanwhile

        await b.set("user", b"old", tags=("users/1",), ttl=60, since=since)
        await b.set("other", b"2", tags=("users/2",), ttl=60, since=since)

        assert (None, b"2") == (await a.get("user"), await a.get("other"))
        assert 1 == since


async def test_a_gateway_that_has_not_asked_redis_yet_refuses_rather_than_risk(
    keyspace: RedisSpace,
) -> None:
    """`begin()` answers from what the process saw: before its first reply it says 0, which
    refuses a tag invalidated since; the next reply brings the sequence up to date."""
    async with gateway(keyspace) as a, gateway(keyspace) as fresh:
        await a.invalidate(("users/1",))
        await fresh.set("k", b"v", tags=("users/1",), ttl=60, since=fresh.begin())
        refused = await a.get("k")
        await fresh.set("k", b"v", tags=("users/1",), ttl=60, since=fresh.begin())

        assert (None, b"v") == (refused, await a.get("k"))


async def test_an_entry_expires_with_its_ttl(keyspace: RedisSpace) -> None:
    cache = RedisCache(keyspace.client, keyspace.prefix, max_bytes=10_000)
    await cache.set("k", b"v", tags=(), ttl=5, since=cache.begin())

    ttl_ms = await keyspace.client.pttl(keyspace.key("cache:entry:k"))

    assert 4000 < ttl_ms <= 5000


async def test_the_byte_bound_drops_the_entries_that_expire_soonest(keyspace: RedisSpace) -> None:
    size = 1 + 100 + ENTRY_OVERHEAD
    cache = RedisCache(keyspace.client, keyspace.prefix, max_bytes=3 * size)
    since = cache.begin()
    for key, ttl in (("a", 60), ("b", 30), ("c", 90)):
        await cache.set(key, b"x" * 100, tags=(), ttl=ttl, since=since)
    await cache.set("d", b"x" * 100, tags=(), ttl=60, since=since)

    assert [True, False, True, True] == [await cache.get(key) is not None for key in "abcd"]
    assert (3, 3 * size) == (cache.stats().entries, cache.stats().bytes)


async def test_beyond_the_tracked_tags_reads_in_flight_store_nothing(keyspace: RedisSpace) -> None:
    cache = RedisCache(keyspace.client, keyspace.prefix, max_bytes=10_000, max_tracked_tags=2)
    await cache.get("warm")
    since = cache.begin()
    await cache.invalidate(("users/1", "users/2", "users/3"))  # forgets which, keeps "when"

    await cache.set("k", b"v", tags=("users/4",), ttl=60, since=since)
    await cache.get("k")
    await cache.set("k", b"v", tags=("users/4",), ttl=60, since=cache.begin())

    assert b"v" == await cache.get("k")
    assert CacheStats(hits=1, misses=2, entries=1, bytes=1 + 1 + ENTRY_OVERHEAD) == cache.stats()


async def test_a_failing_redis_is_bypassed_then_the_cache_is_cleared_before_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = unused_port()
    clients = connect_redis(RedisSettings(url=f"redis://127.0.0.1:{port}/0"))
    assert clients is not None
    client = clients.policies  # as the hub makes it: short timeouts, one retry
    cache = RedisCache(client, "hub", max_bytes=10_000)
    try:
        with caplog.at_level(logging.WARNING, logger="hub.policies.cache_redis"):
            async with redis_server(port, tmp_path):
                await cache.set("k", b"v", tags=("users/1",), ttl=60, since=cache.begin())
                assert b"v" == await cache.get("k")
                # Stop it: a write's invalidation is lost while Redis is away.
            outage = await cache.get("k")
            await cache.invalidate(("users/1",))
            async with redis_server(port, tmp_path):
                await client.set("hub:cache:entry:stale", b"old")  # what it kept, say
                await client.zadd("hub:cache:expiry", {"hub:cache:entry:stale": 1e15})
                after = await cache.get("stale")
                await cache.set("k", b"new", tags=("users/1",), ttl=60, since=cache.begin())
                served = await cache.get("k")
    finally:
        await clients.close()

    assert None is outage
    assert (None, b"new") == (after, served)
    assert cache.failures >= 2
    assert [
        "response cache: Redis failed",
        "response cache: Redis answers again; the cache was cleared",
    ] == [record.getMessage().partition(" (")[0] for record in caplog.records]
