"""What only the shared bus does (the contract itself is test_bus.py): several processes on one
Redis stream. A subscriber in another bus instance (its own client and connections, or its
own OS process) receives every event published by the first, in order, once; relays that
publish the same outbox add each event once; a bus that starts late loads what the stream
retains and refuses what it no longer has; a reader that missed trimmed entries drops its
subscribers instead of skipping; a reader whose connection is killed carries on without gap
or duplicate."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.events.bus import EventFilter, ResumeTooOld, SlowConsumer
from hub.events.redis import RedisEventBus
from tests.events.buses import T0, Clock, Recorder, event
from tests.events.streams import LIMIT_SECONDS, take
from tests.redisdb import REDIS_URL, RedisSpace, connect

ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def process_bus(
    keyspace: RedisSpace, *, count: int = 10_000, seconds: float = 1e10, clock: Clock | None = None
) -> AsyncIterator[RedisEventBus]:
    """A started bus on the test's stream with a client of its own, as another process has."""
    client = connect()
    bus = RedisEventBus(
        client,
        keyspace.key("events"),
        retention_count=count,
        retention_seconds=seconds,
        subscriber_queue=10_000,
        clock=clock or Clock(T0),
    )
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close()
        await client.aclose()


async def test_a_subscriber_of_another_instance_gets_every_event_in_order_once(
    keyspace: RedisSpace,
) -> None:
    async with process_bus(keyspace) as first, process_bus(keyspace) as second:
        everything = second.subscribe(EventFilter())
        owned = second.subscribe(EventFilter(owner_id="ada"))
        for start in range(1, 301, 20):
            await first.publish(
                [event(n, owner="ada" if n % 3 == 0 else "bob") for n in range(start, start + 20)]
            )

        assert list(range(1, 301)) == await take(everything, 300)
        assert list(range(3, 301, 3)) == await take(owned, 100)
        assert (0, 0) == (everything.queued, owned.queued)
        assert (300, 0) == (first.stats().published, second.stats().published)


async def test_relays_publishing_the_same_events_add_each_once(keyspace: RedisSpace) -> None:
    """Two backend processes relay one outbox: each publishes every event, in overlapping
    batches and at the same time; subscribers anywhere get each event once."""
    async with (
        process_bus(keyspace) as relay_a,
        process_bus(keyspace) as relay_b,
        process_bus(keyspace) as gateway,
    ):
        subscription = gateway.subscribe(EventFilter())

        async def relay(bus: RedisEventBus, batch: int) -> None:
            for start in range(1, 501, batch):
                await bus.publish([event(n) for n in range(start, min(start + batch, 501))])

        async with asyncio.TaskGroup() as group:
            group.create_task(relay(relay_a, 7))
            group.create_task(relay(relay_b, 11))

        assert list(range(1, 501)) == await take(subscription, 500)
        assert 0 == subscription.queued
        assert 500 == relay_a.stats().published + relay_b.stats().published
        assert 500 == await keyspace.client.xlen(keyspace.key("events"))


async def test_a_subscriber_in_another_os_process_gets_every_event_in_order_once(
    keyspace: RedisSpace,
) -> None:
    subscriber = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.events.redis_subscriber",
        REDIS_URL,
        keyspace.key("events"),
        "200",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert subscriber.stdout is not None
        async with asyncio.timeout(LIMIT_SECONDS * 2):
            assert b"ready\n" == await subscriber.stdout.readline()
            async with process_bus(keyspace) as publisher:
                for start in range(1, 201, 25):
                    await publisher.publish([event(n) for n in range(start, start + 25)])
            output, _ = await subscriber.communicate()
    finally:
        if subscriber.returncode is None:
            subscriber.kill()
            await subscriber.wait()

    assert list(range(1, 201)) == [int(line) for line in output.split()]
    assert 0 == subscriber.returncode


async def test_a_bus_started_later_resumes_from_what_the_stream_retains(
    keyspace: RedisSpace,
) -> None:
    async with process_bus(keyspace, count=50) as first:
        await first.publish([event(n) for n in range(1, 101)])
        async with process_bus(keyspace, count=50) as late:
            with pytest.raises(ResumeTooOld) as raised:
                late.subscribe(EventFilter(), since=49)
            resumed = late.subscribe(EventFilter(), since=80)
            await first.publish([event(101)])

            assert (49, 51) == (raised.value.since, raised.value.oldest_retained)
            assert list(range(81, 102)) == await take(resumed, 21)
            assert 101 == late.last_id


async def test_a_bus_started_after_everything_aged_out_refuses_every_older_resume(
    keyspace: RedisSpace,
) -> None:
    """The stream is empty but says what it had: a resume from before its last id would
    miss events, so it is refused rather than answered with nothing."""
    clock = Clock(T0)
    async with process_bus(keyspace, seconds=60, clock=clock) as first:
        await first.publish([event(n) for n in range(1, 11)])
        clock.now = T0 + 1000
        await first.publish([event(11)])  # every event is older than 60 s now: all trimmed
        async with process_bus(keyspace, seconds=60, clock=clock) as late:
            with pytest.raises(ResumeTooOld):
                late.subscribe(EventFilter(), since=5)
            resumed = late.subscribe(EventFilter(), since=11)
            await first.publish([event(1012)])

            assert [1012] == await take(resumed, 1)
    assert 1 == await keyspace.client.xlen(keyspace.key("events"))


async def test_a_reader_that_missed_trimmed_events_drops_its_subscribers(
    keyspace: RedisSpace,
) -> None:
    """One batch larger than the retention: the entries another process's reader had not
    read yet are trimmed before it could. Its subscribers end as too slow, and resuming
    from where they were is refused: nothing is skipped in silence."""
    async with (
        process_bus(keyspace, count=5) as publisher,
        process_bus(keyspace, count=5) as reader,
    ):
        live = reader.subscribe(EventFilter())
        pushed = Recorder()
        reader.push(EventFilter(), pushed).resume()
        await publisher.publish([event(1)])
        assert [1] == await take(live, 1)
        await publisher.publish([event(n) for n in range(2, 21)])  # keeps 16..20 only
        with pytest.raises(SlowConsumer) as dropped:
            await take(live, 1)
        with pytest.raises(ResumeTooOld):
            reader.subscribe(EventFilter(), since=dropped.value.last_delivered)
        after = reader.subscribe(EventFilter(), since=15)
        await publisher.publish([event(21)])

        assert 1 == dropped.value.last_delivered
        assert list(range(16, 22)) == await take(after, 6)
        assert [1] == pushed.ids
        assert pushed.drop is not None
        assert 1 == pushed.drop.last_delivered
        assert 2 == reader.stats().slow_consumer_drops


async def _kill_connections(client: Redis, name: str) -> int:
    """Kills the server side of every connection named `name`; returns how many."""
    killed = 0
    for connection in await client.client_list():
        if connection["name"] == name:
            await client.client_kill_filter(_id=connection["id"])
            killed += 1
    return killed


async def test_a_reader_whose_connection_is_killed_carries_on_without_gap_or_duplicate(
    keyspace: RedisSpace,
) -> None:
    name = f"{keyspace.prefix}-reader"
    client = Redis.from_url(REDIS_URL, client_name=name)
    reader = RedisEventBus(
        client,
        keyspace.key("events"),
        retention_count=1000,
        retention_seconds=1e10,
        subscriber_queue=1000,
        clock=Clock(T0),
    )
    await reader.start()
    try:
        async with process_bus(keyspace) as publisher:
            subscription = reader.subscribe(EventFilter())
            await publisher.publish([event(n) for n in range(1, 11)])
            assert list(range(1, 11)) == await take(subscription, 10)
            killed = await _kill_connections(keyspace.client, name)
            await publisher.publish([event(n) for n in range(11, 21)])

            assert list(range(11, 21)) == await take(subscription, 10)
            assert killed >= 1
            assert 0 == subscription.queued
    finally:
        await reader.close()
        await client.aclose()


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_starting_without_a_reachable_redis_fails_with_the_redis_error() -> None:
    client = Redis.from_url(f"redis://127.0.0.1:{_unused_port()}/0", socket_connect_timeout=1)
    bus = RedisEventBus(
        client, "hub:events", retention_count=10, retention_seconds=60, subscriber_queue=10
    )
    try:
        with pytest.raises(RedisError):
            await bus.start()
    finally:
        await bus.close()
        await client.aclose()


async def test_stream_entries_carry_the_outbox_id_and_commit_time(keyspace: RedisSpace) -> None:
    """The layout other tools can read: `<event id>-0`, `t` in ms, `e` the Event."""
    async with process_bus(keyspace) as bus:
        await bus.publish([event(7), event(9)])
        entries: Any = await keyspace.client.xrange(keyspace.key("events"))

    assert [b"7-0", b"9-0"] == [entry_id for entry_id, _ in entries]
    assert str((T0 + 7) * 1000).encode() == entries[0][1][b"t"]
    assert event(7).SerializeToString() == entries[0][1][b"e"]
