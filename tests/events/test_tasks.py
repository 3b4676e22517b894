"""`stop_task` ends a task even when the task swallows a cancellation (as redis-py can,
redis/redis-py#2028), and hands on what the task raised."""

from __future__ import annotations

import asyncio

import pytest

from hub.events.tasks import stop_task


async def test_a_task_that_swallows_the_first_cancellation_is_stopped() -> None:
    swallowed: list[int] = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.append(1)  # ignores it, and waits again, as for its next poll
        await asyncio.sleep(3600)

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await stop_task(task)

    assert ([1], True) == (swallowed, task.cancelled())


async def test_what_the_task_raised_is_raised() -> None:
    async def failing() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("failed while stopping") from None

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="failed while stopping"):
        await stop_task(task)
