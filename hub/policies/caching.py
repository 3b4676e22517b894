"""The caching policy: which calls are answered from the `Cache`, under which key, and what
each write and each event invalidates.

Reads (the RPCs mapped to HTTP GET) with a TTL above 0 are cached. The key is the RPC, the
scope of the caller's authorization (the principal's subject, `admin` for every admin, `-` for
an anonymous call; the backends' answer depends on nothing else) and the serialized request.
A write that succeeds invalidates what it may have changed before its caller has the answer,
so no later read, through any front end, returns the previous value; `follow` applies the
domain events too, for writes made elsewhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping

from google.protobuf import message_factory
from google.protobuf.message import Message

from hub.client import SERVICE_DESCRIPTORS, is_read, method_path
from hub.events.bus import EventBus, EventFilter
from hub.events.tasks import stop_task
from hub.policies.cache import Cache, event_tags, read_tags, write_tags
from hub.principal import Principal

_logger = logging.getLogger(__name__)


class _Method:
    __slots__ = ("read", "request", "response", "service")

    def __init__(self, service: str, read: bool, request: type[Message], response: type[Message]):
        self.service = service
        self.read = read
        self.request = request
        self.response = response


class CachingPolicy:
    """Caches the reads whose `ttls` (by wire path) are above 0 in `cache`."""

    def __init__(self, cache: Cache, ttls: Mapping[str, float]) -> None:
        self.cache = cache
        self._ttls = {path: ttl for path, ttl in ttls.items() if ttl > 0}
        self._methods = {
            method_path(descriptor, method.name): _Method(
                descriptor.full_name,
                is_read(method),
                message_factory.GetMessageClass(method.input_type),
                message_factory.GetMessageClass(method.output_type),
            )
            for descriptor in SERVICE_DESCRIPTORS.values()
            for method in descriptor.methods
        }

    def cached(self, path: str) -> bool:
        """Whether calls of `path` may be answered from the cache."""
        return path in self._ttls

    def writes(self, path: str) -> bool:
        """Whether `path` is a write (its success invalidates)."""
        method = self._methods.get(path)
        return method is not None and not method.read

    def key(self, path: str, principal: Principal | None, request: bytes) -> str:
        """The cache key of a read."""
        scope = "-" if principal is None else "admin" if principal.admin else principal.subject
        digest = hashlib.blake2b(request, digest_size=20).hexdigest()
        return f"{path} {scope} {digest}"

    @staticmethod
    def encode(message: bytes | Message) -> bytes:
        """A request or response as bytes (raw calls already are)."""
        if isinstance(message, bytes):
            return message
        return message.SerializeToString(deterministic=True)

    def answer(self, path: str, cached: bytes, raw: bool) -> bytes | Message:
        """A cached response as the caller expects it: bytes for a raw call, else parsed."""
        return cached if raw else self._methods[path].response.FromString(cached)

    async def store(
        self, path: str, key: str, request: bytes | Message, response: bytes, since: int
    ) -> None:
        """Caches the response of a read (unless a write of what it shows came meanwhile)."""
        method = self._methods[path]
        tags = read_tags(method.service, self._parsed(method, request))
        await self.cache.set(key, response, tags=tags, ttl=self._ttls[path], since=since)

    async def written(self, path: str, request: bytes | Message) -> None:
        """Invalidates what a successful write may have changed."""
        method = self._methods[path]
        await self.cache.invalidate(write_tags(method.service, self._parsed(method, request)))

    @staticmethod
    def _parsed(method: _Method, request: bytes | Message) -> Message:
        """The request as a message: parsed only when the call carried bytes (a raw call)."""
        return method.request.FromString(request) if isinstance(request, bytes) else request

    async def follow(self, bus: EventBus) -> None:
        """Invalidates what each domain event changed, until cancelled (restarting after a
        subscription that fell behind: what was missed is unknown, so everything goes)."""
        while True:
            subscription = bus.subscribe(EventFilter())
            try:
                async for event in subscription:
                    await self.cache.invalidate(event_tags(event))
                return  # the bus closed
            except Exception:  # SlowConsumer, or a cache failure: start again, clean
                _logger.exception("cache invalidation: event stream broken; clearing")
                await self.cache.clear()
                await asyncio.sleep(0.1)
            finally:
                subscription.close()


async def stop_following(task: asyncio.Task[None] | None) -> None:
    """Stops a `follow` task."""
    if task is not None:
        await stop_task(task)  # a Redis cache may swallow the first cancellation
