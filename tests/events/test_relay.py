"""`Relay` over a real SQLite store, onto each bus (in memory, and on Redis: `new_bus`):
committed outbox events reach the bus in id order, at once when nudged and by polling
otherwise, and a relay that stopped at any point (a crash included) resumes from its saved
cursor without losing an event or delivering one twice to a subscriber that resumes. (On
Redis the restarted relay's bus is a new instance on the same stream, as after a process
restart.)"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from hub.events.bus import EventBus, EventFilter, ResumeTooOld
from hub.events.relay import Relay
from hub.storage.sqlite import SqliteStore
from tests.events.buses import BusMaker
from tests.events.streams import take
from tests.storage.messages import add_user, outbox

FOREVER = 3600.0


# The storage builders commit their events in 2026: keep them however old they are.
FOREVER_AGO = 1e10


@asynccontextmanager
async def opened(
    path: Path, on_commit: Callable[[int], None] | None = None
) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(path, on_commit=on_commit)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def relaying(
    store: SqliteStore, bus: EventBus, *, count: int = 1000, poll: float = FOREVER
) -> AsyncIterator[Relay]:
    relay = Relay(store, bus, retention_count=count, poll_interval=poll)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


async def test_start_publishes_every_committed_event_in_order_and_saves_the_cursor(
    tmp_path: Path, new_bus: BusMaker
) -> None:
    bus = await new_bus(seconds=FOREVER_AGO)
    async with opened(tmp_path / "hub.db") as store:
        for _ in range(5):
            await add_user(store)
        async with relaying(store, bus) as relay:
            subscription = bus.subscribe(EventFilter(), since=0)
            received = [await anext(aiter(subscription)) for _ in range(5)]

            assert await outbox(store) == received
            assert (5, 5, 5) == (bus.last_id, relay.cursor, await store.read_relay_cursor())


async def test_a_nudge_delivers_a_new_event_without_waiting_for_the_poll(
    tmp_path: Path, new_bus: BusMaker
) -> None:
    bus = await new_bus(seconds=FOREVER_AGO)
    async with opened(tmp_path / "hub.db") as store, relaying(store, bus, poll=FOREVER) as relay:
        subscription = bus.subscribe(EventFilter())
        user = await add_user(store)
        relay.nudge()

        assert f"users/{user.id}" == (await anext(aiter(subscription))).subject


async def test_without_a_nudge_the_poll_finds_new_events(tmp_path: Path, new_bus: BusMaker) -> None:
    bus = await new_bus(seconds=FOREVER_AGO)
    async with opened(tmp_path / "hub.db") as store, relaying(store, bus, poll=0.01):
        subscription = bus.subscribe(EventFilter())
        await add_user(store)
        await add_user(store)

        assert [1, 2] == await take(subscription, 2)


async def test_the_store_hook_wakes_the_relay_after_each_commit(
    tmp_path: Path, new_bus: BusMaker
) -> None:
    """How the hub wires it: the store's `on_commit` tells the relay what it committed."""
    bus = await new_bus(seconds=FOREVER_AGO)
    relays: list[Relay] = []
    async with (
        opened(
            tmp_path / "hub.db", on_commit=lambda event_id: relays[0].committed(event_id)
        ) as store,
        relaying(store, bus, poll=FOREVER) as relay,
    ):
        relays.append(relay)
        subscription = bus.subscribe(EventFilter())
        for _ in range(3):
            await add_user(store)

        assert [1, 2, 3] == await take(subscription, 3)


async def test_events_committed_while_no_relay_ran_are_delivered_after_restart_once(
    tmp_path: Path, new_bus: BusMaker
) -> None:
    """The crash: the relay published 1..3 but recorded only 1 (it died before saving), and
    4..6 were committed after it died. The restarted relay delivers 4..6 to the subscriber
    that resumes from 3, and nothing it had already seen."""
    path = tmp_path / "hub.db"
    async with opened(path) as store:
        bus = await new_bus(seconds=FOREVER_AGO)
        async with relaying(store, bus) as relay:
            subscription = bus.subscribe(EventFilter())
            for _ in range(3):
                await add_user(store)
            relay.nudge()
            seen = await take(subscription, 3)
        await store.save_relay_cursor(1)
        for _ in range(3):
            await add_user(store)

    async with opened(path) as store:
        bus = await new_bus(seconds=FOREVER_AGO)
        async with relaying(store, bus) as relay:
            resumed = bus.subscribe(EventFilter(), since=seen[-1])
            await add_user(store)
            relay.nudge()

            assert [4, 5, 6, 7] == await take(resumed, 4)
            assert 0 == resumed.queued
            assert list(range(1, 8)) == await take(bus.subscribe(EventFilter(), since=0), 7)
    assert [1, 2, 3] == seen


async def test_a_restarted_relay_primes_the_bus_with_the_retained_count(
    tmp_path: Path, new_bus: BusMaker
) -> None:
    path = tmp_path / "hub.db"
    async with opened(path) as store:
        for _ in range(10):
            await add_user(store)
        async with relaying(store, await new_bus(count=3, seconds=FOREVER_AGO), count=3):
            pass

    async with opened(path) as store:
        bus = await new_bus(count=3, seconds=FOREVER_AGO)
        async with relaying(store, bus, count=3):
            with pytest.raises(ResumeTooOld):
                bus.subscribe(EventFilter(), since=6)
            assert [8, 9, 10] == await take(bus.subscribe(EventFilter(), since=7), 3)


async def test_a_stopped_relay_publishes_nothing_more(tmp_path: Path, new_bus: BusMaker) -> None:
    bus = await new_bus(seconds=FOREVER_AGO)
    async with opened(tmp_path / "hub.db") as store:
        async with relaying(store, bus, poll=0.01) as relay:
            await add_user(store)
            relay.nudge()
            await take(bus.subscribe(EventFilter(), since=0), 1)
        await add_user(store)
        relay.nudge()
        await asyncio.sleep(0.05)

        assert (1, 1) == (bus.last_id, await store.read_relay_cursor())


class Logged(logging.Handler):
    """Collects the messages logged in the event loop, and signals the first."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.first = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.first.set()


async def test_a_failing_store_is_logged_and_the_relay_carries_on_when_it_recovers(
    tmp_path: Path, new_bus: BusMaker
) -> None:
    logged = Logged()
    logger = logging.getLogger("hub.events.relay")
    logger.addHandler(logged)
    bus = await new_bus(seconds=FOREVER_AGO)
    store = SqliteStore(tmp_path / "hub.db")
    await store.open()
    try:
        async with relaying(store, bus, poll=FOREVER) as relay:
            subscription = bus.subscribe(EventFilter())
            await store.close()
            relay.nudge()
            async with asyncio.timeout(5):
                await logged.first.wait()
            await store.open()
            await add_user(store)
            relay.nudge()

            assert [1] == await take(subscription, 1)
    finally:
        logger.removeHandler(logged)
        await store.close()
    assert ["event relay: cannot move outbox events to the bus"] == logged.messages


async def test_stats_count_local_commits_until_they_are_published(
    tmp_path: Path, new_bus: BusMaker
) -> None:
    """`stats()` (for the metrics) reports the committed events the relay has not yet
    published and how long the oldest has waited; both drop to 0 once it caught up."""
    bus = await new_bus(seconds=FOREVER_AGO)
    async with opened(tmp_path / "hub.db") as store, relaying(store, bus) as relay:
        await add_user(store)
        await add_user(store)
        relay.committed(1)
        relay.committed(2)
        before = relay.stats()
        await relay.catch_up()
        after = relay.stats()

        assert (2, True) == (before.pending, before.lag_seconds > 0)
        assert (0, 0.0) == (after.pending, after.lag_seconds)
