"""Ending the background tasks of the event path (the relay, the Redis bus's reader).

Both spend their time in redis-py commands (the relay publishing, the reader reading), and
redis-py can swallow a cancellation that lands at the wrong moment of a command
(redis/redis-py#2028): the task then runs on, and whoever awaits it after one `cancel()`
waits forever (a hub process that never finishes its shutdown). `cancel_and_wait` cancels
again until the task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib

CANCEL_RETRY_SECONDS = 0.05
"""How long to wait for a cancelled task to end before cancelling it again."""


async def cancel_and_wait(task: asyncio.Task[None]) -> None:
    """Cancels `task` (again and again, should it swallow a cancellation) until it ends."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_RETRY_SECONDS)
    with contextlib.suppress(asyncio.CancelledError):
        await task
