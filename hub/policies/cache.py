"""The response cache of reads, behind a `Cache` interface, invalidated by tags.

Entries are serialized responses, each with tags naming what it shows (`users/{id}`,
`mindmaps/{id}`, `users` for a list of users, `mindmaps` for a list of mindmaps). A write
invalidates the tags it changes, at once, before its caller has the answer; the domain events
do it again for writes made elsewhere (another replica, a backend called directly).

A read that was in flight while a tag it shows was invalidated must not store the value it
read, which may be the old one: `begin()` gives a sequence number before the read, and `set`
stores nothing when one of the entry's tags was invalidated after it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message

from hub.contracts.events.v1.events_pb2 import Event
from hub.subjects import collection_of, mindmap_subject, user_subject

ENTRY_OVERHEAD = 200
"""Bytes counted per entry beyond its key and value (the entry, index sets)."""


@dataclass(frozen=True)
class CacheStats:
    """What a cache reports for metrics."""

    hits: int
    misses: int
    entries: int
    bytes: int


class Cache(Protocol):
    """Cached read responses: in this process (`MemoryCache`), or in Redis, shared by every
    gateway (`cache_redis.RedisCache`)."""

    def begin(self) -> int:
        """The invalidation sequence now; pass it to `set` for what a read returns."""

    async def get(self, key: str) -> bytes | None:
        """The cached value of `key`, if any and fresh."""

    async def set(
        self, key: str, value: bytes, *, tags: Collection[str], ttl: float, since: int
    ) -> None:
        """Stores `value` for `ttl` seconds, unless one of `tags` was invalidated after
        `since` (from `begin()` before the read)."""

    async def invalidate(self, tags: Collection[str]) -> None:
        """Drops every entry that has one of `tags`."""

    async def clear(self) -> None:
        """Drops everything; reads in flight store nothing."""

    def stats(self) -> CacheStats:
        """Counts for metrics."""


@dataclass
class _Entry:
    value: bytes
    expires: float
    tags: tuple[str, ...]
    size: int


class MemoryCache:
    """An LRU `Cache` in this process, bounded by `max_bytes` (keys, values and overhead),
    each entry living at most its TTL."""

    def __init__(
        self,
        *,
        max_bytes: int,
        max_tracked_tags: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_tag: dict[str, set[str]] = {}
        self._bytes = 0
        self._sequence = 0
        self._invalidated: dict[str, int] = {}
        """When each tag was last invalidated (sequence numbers above `_floor`)."""
        self._floor = 0
        """Tags not in `_invalidated` were last invalidated at or before this."""
        self._max_tracked_tags = max_tracked_tags
        self._hits = 0
        self._misses = 0

    def begin(self) -> int:
        """See `Cache.begin`."""
        return self._sequence

    async def get(self, key: str) -> bytes | None:
        """See `Cache.get`."""
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self._clock():
            if entry is not None:
                self._drop(key)
            self._misses += 1
            return None
        self._entries.move_to_end(key)
        self._hits += 1
        return entry.value

    async def set(
        self, key: str, value: bytes, *, tags: Collection[str], ttl: float, since: int
    ) -> None:
        """See `Cache.set`."""
        if since < self._floor or any(self._invalidated.get(tag, 0) > since for tag in tags):
            return  # what was read may predate a write
        size = len(key) + len(value) + ENTRY_OVERHEAD
        if size > self._max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = _Entry(value, self._clock() + ttl, tuple(tags), size)
        self._bytes += size
        for tag in tags:
            self._by_tag.setdefault(tag, set()).add(key)
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))

    async def invalidate(self, tags: Collection[str]) -> None:
        """See `Cache.invalidate`."""
        self._sequence += 1
        for tag in tags:
            self._invalidated[tag] = self._sequence
            for key in tuple(self._by_tag.get(tag, ())):
                self._drop(key)
        if len(self._invalidated) > self._max_tracked_tags:
            # Forget the per-tag history; reads in flight now store nothing.
            self._invalidated.clear()
            self._floor = self._sequence

    async def clear(self) -> None:
        """See `Cache.clear`."""
        self._sequence += 1
        self._entries.clear()
        self._by_tag.clear()
        self._bytes = 0
        self._invalidated.clear()
        self._floor = self._sequence

    def stats(self) -> CacheStats:
        """See `Cache.stats`."""
        return CacheStats(
            hits=self._hits, misses=self._misses, entries=len(self._entries), bytes=self._bytes
        )

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size
        for tag in entry.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]


_SERVICES: dict[str, Callable[[str], str]] = {
    "hub.user.v1.UserService": user_subject,
    "hub.mindmap.v1.MindmapService": mindmap_subject,
}
"""How each service names its resources (the event subjects)."""


def read_tags(service: str, request: Message) -> tuple[str, ...]:
    """What a read shows: the resources it names, or for a list the service's collection."""
    return _resources(service, request) or (_collection(service),)


def write_tags(service: str, request: Message) -> tuple[str, ...]:
    """What a write may change: the resources it names and the service's collection (every
    list of it)."""
    return (_collection(service), *_resources(service, request))


def event_tags(event: Event) -> tuple[str, ...]:
    """What an event changed: its subject and the collection of its kind."""
    return (collection_of(event.subject), event.subject)


def _collection(service: str) -> str:
    return collection_of(_SERVICES[service](""))


def _resources(service: str, request: Message) -> tuple[str, ...]:
    """The subjects of the ids a request names: `id`, `ids`, `mindmap_id`, `user.id`,
    `mindmap.id`."""
    ids: list[str] = []
    fields = request.DESCRIPTOR.fields_by_name
    for name in ("id", "mindmap_id"):
        if name in fields and getattr(request, name):
            ids.append(getattr(request, name))
    if "ids" in fields:
        ids.extend(request.ids)  # type: ignore[attr-defined]
    for name in ("user", "mindmap"):
        if name in fields and request.HasField(name) and getattr(request, name).id:
            ids.append(getattr(request, name).id)
    subject = _SERVICES[service]
    return tuple(subject(resource_id) for resource_id in ids)
