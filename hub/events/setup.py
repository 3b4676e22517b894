"""Builds the event bus the settings call for: `build_bus` is what the composition root
calls. In memory for one process; on Redis (`redis.url`) when the processes of a deployment
share it."""

from __future__ import annotations

from hub.config import Events
from hub.events.bus import EventBus
from hub.events.memory import MemoryEventBus
from hub.events.redis import RedisEventBus
from hub.redisconn import RedisClients


def build_bus(settings: Events, redis: RedisClients | None) -> EventBus:
    """The bus (not yet started): on the stream `<prefix>:events` of `redis`, or in memory
    when there is no Redis."""
    if redis is None:
        return MemoryEventBus(
            retention_count=settings.retention_count,
            retention_seconds=settings.retention_seconds,
            subscriber_queue=settings.subscriber_queue,
        )
    return RedisEventBus(
        redis.events,
        f"{redis.prefix}:events",
        retention_count=settings.retention_count,
        retention_seconds=settings.retention_seconds,
        subscriber_queue=settings.subscriber_queue,
    )
