"""The buses under test: a test that takes `new_bus` runs once per `EventBus`
implementation, in memory and on the real Redis (a fresh key space per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from hub.events.bus import EventBus
from hub.events.memory import MemoryEventBus
from hub.events.redis import RedisEventBus
from tests.events.buses import T0, BusMaker, Clock
from tests.redisdb import redis_space


@pytest.fixture(params=["memory", "redis"])
async def new_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusMaker]:
    """Makes started buses of one implementation (every Redis bus of a test on the same
    stream, as the processes of one deployment); closes them after the test."""
    async with AsyncExitStack() as stack:
        space = await stack.enter_async_context(redis_space()) if request.param == "redis" else None

        async def make(
            *,
            count: int = 1000,
            seconds: float = 3600,
            queue: int = 1000,
            clock: Clock | None = None,
        ) -> EventBus:
            bus: EventBus
            if space is None:
                bus = MemoryEventBus(
                    retention_count=count,
                    retention_seconds=seconds,
                    subscriber_queue=queue,
                    clock=clock or Clock(T0),
                )
            else:
                bus = RedisEventBus(
                    space.client,
                    space.key("events"),
                    retention_count=count,
                    retention_seconds=seconds,
                    subscriber_queue=queue,
                    clock=clock or Clock(T0),
                )
            await bus.start()
            opened.append(bus)
            return bus

        opened: list[EventBus] = []
        yield make
        for bus in opened:
            await bus.close()
