"""The response caches and the tags of requests and events: invalidation by tag and the
guard that keeps a read which raced a write from storing the old value, in each cache (in
memory, and in the real Redis); the memory cache's TTL and LRU bound. What only the Redis
cache does (several gateways, its bound, Redis failing) is in test_cache_redis.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hub.contracts.events.v1.events_pb2 import Event
from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    BatchGetMindmapsRequest,
    ListMindmapsRequest,
    Mindmap,
    UpdateMindmapRequest,
)
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, GetUserRequest, ListUsersRequest
from hub.policies.cache import (
    Cache,
    CacheStats,
    MemoryCache,
    event_tags,
    read_tags,
    write_tags,
)
from hub.policies.cache_redis import RedisCache
from tests.redisdb import redis_space

USERS = "hub.user.v1.UserService"
MINDMAPS = "hub.mindmap.v1.MindmapService"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    """A cache of 10,000 bytes of each kind (Redis: in this test's key space)."""
    if request.param == "memory":
        yield MemoryCache(max_bytes=10_000)
        return
    async with redis_space() as space:
        yield RedisCache(space.client, space.prefix, max_bytes=10_000)


async def test_an_entry_lives_until_its_ttl() -> None:
    clock = Clock()
    cache = MemoryCache(max_bytes=10_000, clock=clock)
    await cache.set("k", b"v", tags=("t",), ttl=5, since=cache.begin())

    assert b"v" == await cache.get("k")
    clock.now += 5
    assert None is await cache.get("k")
    assert CacheStats(hits=1, misses=1, entries=0, bytes=0) == cache.stats()


async def test_invalidating_a_tag_drops_every_entry_that_has_it(cache: Cache) -> None:
    since = cache.begin()
    await cache.set("a", b"1", tags=("users/1",), ttl=60, since=since)
    await cache.set("b", b"2", tags=("users/2",), ttl=60, since=since)
    await cache.set("list", b"3", tags=("users",), ttl=60, since=since)

    await cache.invalidate(("users", "users/1"))

    assert [None, b"2", None] == [await cache.get(key) for key in ("a", "b", "list")]


async def test_a_read_that_raced_a_write_does_not_store_what_it_read(cache: Cache) -> None:
    since = cache.begin()  # the read starts
    await cache.invalidate(("users/1",))  # a write of what it shows commits meanwhile

    await cache.set("a", b"old", tags=("users/1",), ttl=60, since=since)
    await cache.set("b", b"other", tags=("users/2",), ttl=60, since=since)

    assert (None, b"other") == (await cache.get("a"), await cache.get("b"))


async def test_the_least_recently_used_entries_go_to_keep_the_memory_bound() -> None:
    cache = MemoryCache(max_bytes=3 * (1 + 100 + 200))
    since = cache.begin()
    for key in "abc":
        await cache.set(key, b"x" * 100, tags=(), ttl=60, since=since)
    await cache.get("a")  # used: "b" is now the least recently used
    await cache.set("d", b"x" * 100, tags=(), ttl=60, since=since)

    assert [True, False, True, True] == [await cache.get(key) is not None for key in "abcd"]
    assert cache.stats().bytes <= 3 * (1 + 100 + 200)


async def test_clear_drops_everything_and_reads_in_flight_store_nothing(cache: Cache) -> None:
    since = cache.begin()
    await cache.set("a", b"1", tags=(), ttl=60, since=since)

    await cache.clear()
    await cache.set("b", b"2", tags=(), ttl=60, since=since)

    assert (None, None) == (await cache.get("a"), await cache.get("b"))


def test_reads_show_the_resources_they_name_or_a_collection() -> None:
    assert ("users/u1",) == read_tags(USERS, GetUserRequest(id="u1"))
    assert ("users",) == read_tags(USERS, ListUsersRequest())
    assert ("mindmaps/m1", "mindmaps/m2") == read_tags(
        MINDMAPS, BatchGetMindmapsRequest(ids=["m1", "m2"])
    )
    assert ("mindmaps",) == read_tags(MINDMAPS, ListMindmapsRequest(owner_id="u1"))


def test_writes_change_the_resources_they_name_and_their_collection() -> None:
    assert ("users",) == write_tags(USERS, CreateUserRequest())
    assert ("mindmaps", "mindmaps/m1") == write_tags(
        MINDMAPS, UpdateMindmapRequest(mindmap=Mindmap(id="m1"))
    )
    assert ("mindmaps", "mindmaps/m1") == write_tags(MINDMAPS, AddNodeRequest(mindmap_id="m1"))


def test_an_event_changes_its_subject_and_its_collection() -> None:
    assert ("mindmaps", "mindmaps/m1") == event_tags(
        Event(type="mindmap.node_added", subject="mindmaps/m1")
    )
