"""The Redis clients of a scaled-out hub (`redis.url`), made once by the composition root and
handed to what keeps its state there: the event bus, the rate-limit store, the cache.

Two clients, each with its own connection pool, because the two kinds of use want opposite
timeouts. The policies sit on the request path: they wait at most `redis.timeout_seconds`
for an answer and retry once (a pooled connection that a Redis restart broke), then go on
without Redis (docs/policies.md). The event bus blocks in XREAD for up to a second at a time
and may wait for Redis to come back, so its client keeps redis-py's defaults (5 s timeouts,
retries with backoff).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from hub.config import Redis as RedisSettings


class RedisUnavailable(OSError):
    """Redis cannot be reached at start-up."""


@dataclass(frozen=True)
class RedisClients:
    """The clients of one Redis, and the prefix of every key the hub keeps there."""

    policies: Redis
    """For the rate-limit store and the cache: short timeouts."""
    events: Redis
    """For the event bus: blocking reads."""
    prefix: str
    url: str

    async def open(self) -> None:
        """Checks that Redis answers; `RedisUnavailable` (naming the host, not any
        password) when it does not."""
        try:
            await self.events.ping()
        except RedisError as error:
            parts = urlsplit(self.url)
            netloc = f"{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
            where = parts._replace(netloc=netloc).geturl()
            raise RedisUnavailable(f"cannot reach Redis at {where}: {error}") from None

    async def close(self) -> None:
        """Closes both clients' connections."""
        await self.policies.aclose()
        await self.events.aclose()


def connect(settings: RedisSettings) -> RedisClients | None:
    """The clients for `settings.url`, or None when it is not set (state in the process).
    Connections open on first use."""
    if settings.url is None:
        return None
    timeout = settings.timeout_seconds
    policies = Redis.from_url(
        settings.url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
    )
    return RedisClients(
        policies=policies,
        events=Redis.from_url(settings.url),
        prefix=settings.key_prefix,
        url=settings.url,
    )
