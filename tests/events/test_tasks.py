"""`cancel_and_wait` ends a task even when it swallows a cancellation, as redis-py may."""

from __future__ import annotations

import asyncio

from hub.events.tasks import cancel_and_wait


async def test_a_task_that_swallows_a_cancellation_is_cancelled_again_until_it_ends() -> None:
    swallowed: list[bool] = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.append(True)  # carries on, as a library that loses the cancellation
        await asyncio.sleep(3600)

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)  # let it start waiting

    await cancel_and_wait(task)

    assert ([True], True) == (swallowed, task.cancelled())


async def test_a_task_that_ended_already_is_left_as_it_is() -> None:
    async def quick() -> None:
        return None

    task = asyncio.create_task(quick())
    await task

    await cancel_and_wait(task)

    assert (True, False) == (task.done(), task.cancelled())
