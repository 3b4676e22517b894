"""Reading subscriptions in tests: the ids they deliver, with a time limit so that a missing
event fails the test instead of hanging it."""

from __future__ import annotations

import asyncio

from hub.events.bus import Subscription

LIMIT_SECONDS = 5


async def take(subscription: Subscription, count: int) -> list[int]:
    """The ids of the next `count` events of `subscription`."""
    ids: list[int] = []
    if count:
        async with asyncio.timeout(LIMIT_SECONDS):
            async for received in subscription:
                ids.append(received.id)
                if len(ids) == count:
                    break
    return ids


async def rest(subscription: Subscription) -> list[int]:
    """The ids of the events `subscription` delivers until it ends."""
    async with asyncio.timeout(LIMIT_SECONDS):
        return [received.id async for received in subscription]
