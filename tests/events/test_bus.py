"""The `EventBus` contract, run against each implementation: `MemoryEventBus` and
`RedisEventBus` on the real Redis. Order, filters, resume without gap or duplicate, retention
by count and by age, and backpressure (a slow subscriber is dropped with bounded memory while
the others keep receiving). What only the Redis bus does (several processes on one stream) is
in test_redis.py."""

from __future__ import annotations

import asyncio
import random

import pytest

from hub.events.bus import BusStats, EventBus, EventFilter, ResumeTooOld, SlowConsumer
from tests.events.buses import T0, BusMaker, Clock, Recorder, event
from tests.events.streams import rest, take


@pytest.fixture
async def bus(new_bus: BusMaker) -> EventBus:
    return await new_bus()


async def test_a_subscriber_receives_published_events_in_id_order_each_once(
    bus: EventBus,
) -> None:
    subscription = bus.subscribe(EventFilter())
    await bus.publish([event(1), event(2)])
    await bus.publish([event(3)])

    assert [1, 2, 3] == await take(subscription, 3)
    assert 0 == subscription.queued
    assert 3 == bus.last_id


async def test_a_subscription_without_resume_point_starts_with_the_next_event(
    bus: EventBus,
) -> None:
    await bus.publish([event(1), event(2)])
    subscription = bus.subscribe(EventFilter())
    await bus.publish([event(3)])

    assert [3] == await take(subscription, 1)


async def test_ids_published_again_are_ignored(bus: EventBus) -> None:
    """A relay that publishes a batch again (it could not record its cursor) adds nothing."""
    subscription = bus.subscribe(EventFilter())
    await bus.publish([event(1), event(2)])
    await bus.publish([event(1), event(2), event(3)])

    assert [1, 2, 3] == await take(subscription, 3)
    assert 0 == subscription.queued


@pytest.mark.parametrize(
    ("event_filter", "expected"),
    [
        (EventFilter(), [1, 2, 3, 4]),
        (EventFilter(owner_id="ada"), [1, 2]),
        (EventFilter(subject="mindmaps/m1"), [2, 3]),
        (EventFilter(types=frozenset({"mindmap.node_added", "user.deleted"})), [3, 4]),
        (EventFilter(owner_id="ada", subject="mindmaps/m1"), [2]),
        (EventFilter(owner_id="nobody"), []),
    ],
)
async def test_a_subscriber_receives_only_the_events_its_filter_matches(
    bus: EventBus, event_filter: EventFilter, expected: list[int]
) -> None:
    subscription = bus.subscribe(event_filter)
    await bus.publish(
        [
            event(1, owner="ada", kind="user.updated"),
            event(2, owner="ada", subject="mindmaps/m1", kind="mindmap.updated"),
            event(3, owner="bob", subject="mindmaps/m1", kind="mindmap.node_added"),
            event(4, owner="bob", kind="user.deleted"),
        ]
    )

    assert expected == await take(subscription, len(expected))
    assert 0 == subscription.queued


async def test_a_resumed_subscriber_gets_exactly_the_events_it_missed_then_live_ones(
    bus: EventBus,
) -> None:
    first = bus.subscribe(EventFilter())
    await bus.publish([event(1), event(2)])
    seen = await take(first, 2)
    first.close()
    for event_id in range(3, 103):
        await bus.publish([event(event_id)])

    resumed = bus.subscribe(EventFilter(), since=seen[-1])
    assert 100 == resumed.queued
    await bus.publish([event(103)])

    assert list(range(3, 104)) == await take(resumed, 101)


async def test_a_filtered_resume_gets_only_the_matching_missed_events(bus: EventBus) -> None:
    await bus.publish([event(n, owner="ada" if n % 2 else "bob") for n in range(1, 11)])

    resumed = bus.subscribe(EventFilter(owner_id="bob"), since=4)

    assert 3 == resumed.queued
    assert [6, 8, 10] == await take(resumed, 3)


async def test_resuming_from_a_point_ahead_of_the_bus_delivers_only_later_ids(
    bus: EventBus,
) -> None:
    await bus.publish([event(1)])
    subscription = bus.subscribe(EventFilter(), since=5)
    await bus.publish([event(n) for n in range(2, 8)])

    assert [6, 7] == await take(subscription, 2)


async def test_resuming_before_the_retained_count_is_too_old(new_bus: BusMaker) -> None:
    bus = await new_bus(count=10)
    await bus.publish([event(n) for n in range(1, 21)])

    with pytest.raises(ResumeTooOld) as raised:
        bus.subscribe(EventFilter(), since=9)
    assert (9, 11) == (raised.value.since, raised.value.oldest_retained)
    assert list(range(11, 21)) == await take(bus.subscribe(EventFilter(), since=10), 10)


async def test_events_older_than_the_retained_age_are_gone(new_bus: BusMaker) -> None:
    clock = Clock(T0)
    bus = await new_bus(seconds=60, clock=clock)
    await bus.publish([event(n) for n in range(1, 11)])  # committed at T0+1 .. T0+10
    clock.now = T0 + 65  # 1..4 are now older than 60 s

    with pytest.raises(ResumeTooOld) as raised:
        bus.subscribe(EventFilter(), since=3)
    assert 5 == raised.value.oldest_retained
    assert [5, 6, 7, 8, 9, 10] == await take(bus.subscribe(EventFilter(), since=4), 6)


async def test_a_bus_that_starts_mid_history_knows_nothing_before_its_first_event(
    new_bus: BusMaker,
) -> None:
    """Primed from the outbox after a restart, the bus can resume from just before its first
    event, not from further back."""
    bus = await new_bus()
    await bus.publish([event(n) for n in range(50, 55)])

    with pytest.raises(ResumeTooOld):
        bus.subscribe(EventFilter(), since=48)
    assert [50, 51, 52, 53, 54] == await take(bus.subscribe(EventFilter(), since=49), 5)


async def test_subscribers_joining_during_concurrent_publishing_see_no_gap_or_duplicate(
    new_bus: BusMaker,
) -> None:
    """The seam: whatever point a subscriber resumes from while others publish, it receives
    every later event exactly once, in order."""
    bus = await new_bus(count=10_000, queue=10_000)
    last = 2000
    rng = random.Random(5)

    async def publisher(ids: range) -> None:
        for start in range(ids.start, ids.stop, 7):
            await bus.publish([event(n) for n in range(start, min(start + 7, ids.stop))])
            await asyncio.sleep(0)

    async def subscriber() -> tuple[int, list[int]]:
        await asyncio.sleep(rng.random() / 100)
        since = max(0, bus.last_id - rng.randrange(30))
        subscription = bus.subscribe(EventFilter(), since=since)
        return since, await take(subscription, last - since)

    async with asyncio.TaskGroup() as group:
        readers = [group.create_task(subscriber()) for _ in range(50)]
        group.create_task(publisher(range(1, last + 1)))

    for reader in readers:
        since, ids = reader.result()
        assert list(range(since + 1, last + 1)) == ids


async def test_a_slow_subscriber_is_dropped_with_bounded_memory_while_others_keep_up(
    new_bus: BusMaker,
) -> None:
    bus = await new_bus(queue=8)
    slow = bus.subscribe(EventFilter())
    fast = bus.subscribe(EventFilter())
    fast_ids: list[int] = []
    most_queued = 0
    for event_id in range(1, 101):
        await bus.publish([event(event_id)])
        most_queued = max(most_queued, slow.queued)
        fast_ids += await take(fast, 1)

    assert list(range(1, 101)) == fast_ids
    assert 8 == most_queued
    assert BusStats(subscriptions=1, queued=0, published=100, slow_consumer_drops=1) == bus.stats()
    assert list(range(1, 9)) == await take(slow, 8)
    with pytest.raises(SlowConsumer) as raised:
        await take(slow, 1)
    assert 8 == raised.value.last_delivered


async def test_the_backlog_of_a_resume_does_not_count_against_the_queue(new_bus: BusMaker) -> None:
    bus = await new_bus(queue=4)
    await bus.publish([event(n) for n in range(1, 21)])
    resumed = bus.subscribe(EventFilter(), since=0)
    await bus.publish([event(n) for n in range(21, 25)])

    assert list(range(1, 25)) == await take(resumed, 24)


async def test_closing_a_subscription_ends_its_waiting_iterator(bus: EventBus) -> None:
    subscription = bus.subscribe(EventFilter())
    async with asyncio.TaskGroup() as group:
        reading = group.create_task(rest(subscription))
        await asyncio.sleep(0)
        subscription.close()
        await bus.publish([event(1)])

    assert [] == reading.result()
    assert 0 == bus.stats().subscriptions


async def test_closing_the_bus_ends_every_subscription_and_later_ones(bus: EventBus) -> None:
    subscriptions = [bus.subscribe(EventFilter()) for _ in range(3)]
    await bus.publish([event(1)])
    await bus.close()
    late = bus.subscribe(EventFilter(), since=0)

    assert [[], [], [], []] == [await rest(s) for s in [*subscriptions, late]]
    assert 0 == bus.stats().subscriptions


async def test_a_push_consumer_gets_nothing_before_resume_then_every_event_in_order(
    bus: EventBus,
) -> None:
    consumer = Recorder()
    subscription = bus.push(EventFilter(owner_id="u1"), consumer)
    await bus.publish([event(1), event(2, owner="u2")])
    before_resume = list(consumer.ids)
    subscription.resume()
    await bus.publish([event(3), event(4, owner="u2"), event(5)])

    assert ([], [1, 3, 5]) == (before_resume, consumer.ids)
    assert 0 == subscription.queued


async def test_a_resumed_push_subscription_gets_the_missed_events_then_live_ones(
    new_bus: BusMaker,
) -> None:
    bus = await new_bus(queue=2)
    await bus.publish([event(n) for n in range(1, 11)])
    consumer = Recorder()
    subscription = bus.push(EventFilter(), consumer, since=4)
    await bus.publish([event(11)])
    subscription.resume()
    await bus.publish([event(11), event(12)])

    assert list(range(5, 13)) == consumer.ids


async def test_a_push_consumer_that_cannot_keep_up_gets_its_queue_then_is_dropped(
    new_bus: BusMaker,
) -> None:
    bus = await new_bus(queue=3)
    slow, fast = Recorder(capacity=2), Recorder()
    slow_subscription = bus.push(EventFilter(), slow)
    bus.push(EventFilter(), fast).resume()
    slow_subscription.resume()
    await bus.publish([event(n) for n in range(1, 11)])
    held = slow_subscription.queued
    stats = bus.stats()
    slow_subscription.resume()  # takes 2 of the 3 queued, then is full again
    after_one_resume = list(slow.ids)
    slow_subscription.resume()

    assert list(range(1, 11)) == fast.ids
    assert 3 == held
    assert BusStats(subscriptions=1, queued=0, published=10, slow_consumer_drops=1) == stats
    assert [1, 2, 3, 4] == after_one_resume
    assert [1, 2, 3, 4, 5] == slow.ids
    assert slow.drop is not None
    assert 5 == slow.drop.last_delivered


async def test_a_closed_push_subscription_delivers_nothing_more(bus: EventBus) -> None:
    consumer = Recorder()
    subscription = bus.push(EventFilter(), consumer)
    subscription.resume()
    await bus.publish([event(1)])
    subscription.close()
    await bus.publish([event(2)])
    subscription.resume()

    assert ([1], 0) == (consumer.ids, bus.stats().subscriptions)
