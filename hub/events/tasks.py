"""Stopping the background tasks of the event path (the relay, the bus reader, the cache's
event follower) reliably.

A task that awaits a Redis command may not end when cancelled: redis-py can swallow a
cancellation that lands at the wrong moment of a command (redis/redis-py#2028), and the task
then goes on, perhaps to wait an hour for its next poll. `stop_task` cancels again until the
task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib

CANCEL_RETRY_SECONDS = 0.05
"""How long `stop_task` waits for the task to end before cancelling it again."""


async def stop_task(task: asyncio.Task[None]) -> None:
    """Cancels `task` and returns once it has ended (its exception, if any, is raised)."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_RETRY_SECONDS)
    with contextlib.suppress(asyncio.CancelledError):
        await task
