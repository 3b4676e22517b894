"""`Relay`: moves committed outbox events onto the event bus, in id order, without loss.

The outbox is the source of truth: a write and its event commit together (see
`hub.storage.store`). The relay reads the events after its cursor, publishes them, and then
saves the cursor (the last id published) in the database, so a relay that stops at any
point, a crash included, resumes after the last event it knows it published: an event is
never skipped. One published but not yet recorded is published again, which the bus ignores
(ids at or below its last one) or, after a restart, treats as part of the retained window.

At start the bus is empty, so the relay first primes it with the retained window: it reads
from `retention_count` ids before its cursor, and a subscriber that resumes across the
restart finds what it missed (the bus evicts whatever is older than its retention). Outbox
ids increase with commit order; where they have gaps (PostgreSQL draws an id for a write that
a constraint then refuses), the window is only shorter, and the bus still refuses resume
points before it rather than skip events.

It wakes on `committed(event_id)` (the composition root calls it after each write of this
process, so delivery does not wait for a poll), on `nudge()`, and every `poll_interval`
seconds (writes by others). A failed read or save is logged and retried at the next wake-up.

For metrics, `stats()` tells how many of this process's committed events are not yet
published and how long the oldest of them has waited (the relay's lag).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass

from hub.events.bus import EventBus
from hub.events.tasks import stop_task
from hub.storage.store import Store

BATCH_SIZE = 500

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayStats:
    """What the relay reports for metrics."""

    pending: int
    """Events this process committed that are not yet on the bus."""
    lag_seconds: float
    """How long the oldest of them has waited (0 when none)."""


class Relay:
    """Publishes `store`'s outbox to `bus`; `await start()`, later `await stop()`."""

    def __init__(
        self, store: Store, bus: EventBus, *, retention_count: int, poll_interval: float
    ) -> None:
        self._store = store
        self._bus = bus
        self._retention_count = retention_count
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._published = 0
        self._saved = 0
        self._task: asyncio.Task[None] | None = None
        self._unpublished: deque[tuple[int, float]] = deque()
        """(event id, monotonic commit time) of local commits, oldest first."""

    @property
    def cursor(self) -> int:
        """The id of the last event published to the bus."""
        return self._published

    def nudge(self) -> None:
        """Asks the relay to look for new events now."""
        self._wake.set()

    def committed(self, event_id: int) -> None:
        """A write of this process committed event `event_id`: relay it now."""
        if event_id > self._published:
            self._unpublished.append((event_id, time.monotonic()))
        self.nudge()

    def stats(self) -> RelayStats:
        """Pending local events and the relay's lag, for metrics."""
        self._forget_published()
        if not self._unpublished:
            return RelayStats(pending=0, lag_seconds=0.0)
        return RelayStats(
            pending=len(self._unpublished),
            lag_seconds=time.monotonic() - self._unpublished[0][1],
        )

    def _forget_published(self) -> None:
        unpublished = self._unpublished
        while unpublished and unpublished[0][0] <= self._published:
            unpublished.popleft()

    async def start(self) -> None:
        """Primes the bus with the retained window and every event committed since the
        cursor, then keeps relaying in a background task."""
        self._saved = await self._store.read_relay_cursor()
        self._published = max(0, self._saved - self._retention_count)
        await self.catch_up()
        self._task = asyncio.create_task(self._run(), name="hub-event-relay")

    async def stop(self) -> None:
        """Stops the background task and saves the cursor of the last event published."""
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)  # a Redis bus may swallow the first cancellation
        await self._save()

    async def catch_up(self) -> None:
        """Publishes every committed event after the cursor, then saves the cursor."""
        while True:
            events = await self._store.read_outbox(self._published, BATCH_SIZE)
            if events:
                await self._bus.publish(events)
                self._published = events[-1].id
                self._forget_published()
            if len(events) < BATCH_SIZE:
                break
        await self._save()

    async def _save(self) -> None:
        if self._published > self._saved:
            published = self._published
            await self._store.save_relay_cursor(published)
            self._saved = published

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.catch_up()
            except Exception:  # the store failed (e.g. busy): keep the cursor, try again later
                _logger.exception("event relay: cannot move outbox events to the bus")
