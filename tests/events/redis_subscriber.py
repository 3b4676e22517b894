"""A subscriber in a process of its own, for test_redis.py: a `RedisEventBus` on the stream
named on the command line, subscribed from now; prints `ready` once subscribed, then the ids
of the next COUNT events it receives, one per line, and exits.

    python -m tests.events.redis_subscriber REDIS_URL STREAM_KEY COUNT
"""

from __future__ import annotations

import asyncio
import sys

from redis.asyncio import Redis

from hub.events.bus import EventFilter
from hub.events.redis import RedisEventBus

LIMIT_SECONDS = 20


async def main(url: str, key: str, count: int) -> None:
    client = Redis.from_url(url)
    bus = RedisEventBus(
        client, key, retention_count=10_000, retention_seconds=1e10, subscriber_queue=10_000
    )
    await bus.start()
    try:
        subscription = bus.subscribe(EventFilter())
        print("ready", flush=True)
        received = 0
        async with asyncio.timeout(LIMIT_SECONDS):
            async for event in subscription:
                print(event.id, flush=True)
                received += 1
                if received == count:
                    break
    finally:
        await bus.close()
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
