"""`MemoryEventBus`: the `EventBus` of the embedded default, inside the hub's event loop.

The bus holds the retained events in one deque (shared by every subscriber: a subscriber's
backlog and queue hold references, never copies) and each subscription's pending events in
its own deque, which it consumes in id order.

- Retention: after every publish, and before answering a resume, the oldest events are
  evicted while there are more than `retention_count` or the oldest was committed more than
  `retention_seconds` ago. `_floor` is the highest id no longer retained (before any
  eviction: one below the first id published, as the bus knows nothing before it), so a
  resume from `since` is complete exactly when `since >= _floor`: no assumption that ids are
  contiguous.
- The seam: `subscribe` registers the live subscription and copies the retained matching
  events after `since` into its backlog in one synchronous step, and `publish` fans out
  without yielding to the event loop, so no event can fall between the copy and the live
  stream. Each subscription still enqueues only ids above the last it enqueued, so an event
  can never be delivered twice, and the bus ignores a re-published id (a relay retrying).
- Backpressure: the backlog of a resume does not count against `subscriber_queue` (it only
  references retained events); live events do. A subscription with `subscriber_queue` live
  events waiting when another arrives is dropped: it leaves the bus, keeps what it had, and
  raises `SlowConsumer` (a push consumer: gets `dropped`) once that is consumed.
- Push: while its consumer keeps up, a push subscription queues nothing; `publish` calls
  the consumer for each matching subscriber in turn, without yielding.
- Replica: the Redis bus (redis.py) keeps one of these per process as its local copy of the
  shared stream and fans out through it; `reset` starts that copy over when it learns it
  missed events (every subscription is dropped as too slow, so none skips them silently).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Collection

from hub.contracts.events.v1.events_pb2 import Event
from hub.events.bus import BusStats, Consumer, EventFilter, ResumeTooOld, SlowConsumer

_NANOS = 1_000_000_000


class MemoryEventBus:
    """An `hub.events.bus.EventBus` in this process. `clock` gives the current time in
    seconds since the epoch (event commit times are wall-clock times)."""

    def __init__(
        self,
        *,
        retention_count: int,
        retention_seconds: float,
        subscriber_queue: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._retention_count = retention_count
        self._retention_ns = int(retention_seconds * _NANOS)
        self._subscriber_queue = subscriber_queue
        self._clock = clock
        self._retained: deque[Event] = deque()
        self._subscriptions: set[MemorySubscription] = set()
        self._last_id = 0
        self._floor: int | None = None
        self._closed = False
        self._published = 0
        self._drops = 0

    @property
    def last_id(self) -> int:
        """The id of the last event published (0 before any)."""
        return self._last_id

    def stats(self) -> BusStats:
        """Counts for metrics (sums the queues: one pass over the subscriptions)."""
        return BusStats(
            subscriptions=len(self._subscriptions),
            queued=sum(subscription.queued for subscription in self._subscriptions),
            published=self._published,
            slow_consumer_drops=self._drops,
        )

    async def start(self) -> None:
        """Nothing to prepare: the bus is ready once made."""

    @property
    def oldest_retained(self) -> int:
        """The id of the oldest event still retained (0 if none is)."""
        self._evict()
        return self._retained[0].id if self._retained else 0

    async def publish(self, events: Collection[Event]) -> None:
        """Retains and delivers `events` in order; ids at or below `last_id` (already
        published) are skipped."""
        for event in events:
            if event.id <= self._last_id:
                continue
            if self._floor is None:
                self._floor = event.id - 1
            self._last_id = event.id
            self._published += 1
            self._retained.append(event)
            dropped = [
                subscription
                for subscription in self._subscriptions
                if subscription.filter.matches(event) and not subscription.offer(event)
            ]
            if dropped:
                self._drops += len(dropped)
                self._subscriptions.difference_update(dropped)
        self._evict()

    def subscribe(self, event_filter: EventFilter, since: int | None = None) -> MemorySubscription:
        """The matching events after `since` (exclusive; None: from now on), to iterate.
        `ResumeTooOld` if some of the events after `since` are no longer retained. On a
        closed bus (the hub is draining) the subscription has ended already."""
        return self._register(event_filter, since, None)

    def push(
        self, event_filter: EventFilter, consumer: Consumer, since: int | None = None
    ) -> MemorySubscription:
        """As `subscribe`, but delivered to `consumer` from the first `resume()` on."""
        return self._register(event_filter, since, consumer)

    def _register(
        self, event_filter: EventFilter, since: int | None, consumer: Consumer | None
    ) -> MemorySubscription:
        if self._closed:
            ended = MemorySubscription(self, event_filter, self._last_id, [], 0, consumer)
            ended.close()
            return ended
        backlog: list[Event] = []
        start = self._last_id
        if since is not None:
            self._evict()
            if self._floor is not None and since < self._floor:
                raise ResumeTooOld(since, self.oldest_retained)
            start = since
            backlog = [
                event
                for event in self._retained
                if event.id > since and event_filter.matches(event)
            ]
        subscription = MemorySubscription(
            self, event_filter, start, backlog, self._subscriber_queue, consumer
        )
        self._subscriptions.add(subscription)
        return subscription

    async def close(self) -> None:
        """Ends every subscription and drops the retained events."""
        self._closed = True
        for subscription in tuple(self._subscriptions):
            subscription.close()
        self._retained.clear()

    def reset(self, floor: int | None) -> None:
        """Starts over knowing nothing up to `floor` (None: nothing at all, as when new): the
        retained events go, and every subscription is dropped as too slow (it raises
        `SlowConsumer` after what it had queued), so a subscriber that may have missed
        events resumes, or learns that it cannot."""
        self._retained.clear()
        self._floor = floor
        self._last_id = floor or 0
        dropped = tuple(self._subscriptions)
        self._subscriptions.clear()
        self._drops += len(dropped)
        for subscription in dropped:
            subscription.drop()

    def _evict(self) -> None:
        """Drops the oldest events beyond the count and age bounds."""
        horizon = int(self._clock() * _NANOS) - self._retention_ns
        retained = self._retained
        while retained and (
            len(retained) > self._retention_count or retained[0].time.ToNanoseconds() < horizon
        ):
            self._floor = retained.popleft().id

    def detach(self, subscription: MemorySubscription) -> None:
        """Stops delivering to `subscription` (it was closed or dropped)."""
        self._subscriptions.discard(subscription)


class MemorySubscription:
    """One subscriber's stream from a `MemoryEventBus`: iterated (`hub.events.bus.
    Subscription`) or pushed to a consumer (`hub.events.bus.PushSubscription`); both share
    the queue, the seam and the drop. Slotted, and its queue is made only when needed: an
    idle push subscription is one small object."""

    __slots__ = (
        "_backlog_left",
        "_bus",
        "_closed",
        "_consumer",
        "_dropped",
        "_last_delivered",
        "_last_enqueued",
        "_limit",
        "_pending",
        "_ready",
        "_waiter",
        "filter",
    )

    def __init__(
        self,
        bus: MemoryEventBus,
        event_filter: EventFilter,
        start: int,
        backlog: list[Event],
        limit: int,
        consumer: Consumer | None,
    ) -> None:
        self.filter = event_filter
        self._bus = bus
        self._pending: deque[Event] | None = deque(backlog) if backlog else None
        self._backlog_left = len(backlog)
        self._limit = limit
        self._last_enqueued = backlog[-1].id if backlog else start
        self._last_delivered = start
        self._consumer = consumer
        self._ready = False
        """Push: the consumer takes events now (from `resume()` until it says it cannot)."""
        self._waiter: asyncio.Future[None] | None = None
        self._dropped = False
        self._closed = False

    @property
    def queued(self) -> int:
        """Events waiting to be consumed (backlog included)."""
        return len(self._pending) if self._pending else 0

    def offer(self, event: Event) -> bool:
        """Takes a live event (the bus calls this); False if the queue was full and the
        subscription is dropped (the bus then stops offering it events). A push consumer
        that keeps up gets it at once, with nothing queued."""
        if event.id <= self._last_enqueued:
            return True
        pending = self._pending
        if self._ready and not pending and self._consumer is not None:
            self._last_enqueued = self._last_delivered = event.id
            self._ready = self._consumer.deliver(event)
            return True
        if pending is None:
            pending = self._pending = deque()
        elif len(pending) - self._backlog_left >= self._limit:
            self._dropped = True
            self._wake()
            return False
        pending.append(event)
        self._last_enqueued = event.id
        self._wake()
        return True

    def drop(self) -> None:
        """Ends the subscription as too slow although its queue is not full (its bus
        `reset`): it keeps what it queued; the iterator raises `SlowConsumer` after that, a
        push consumer gets `dropped` now if it is waiting for events, else at its next
        `resume()`."""
        if self._closed or self._dropped:
            return
        self._dropped = True
        self._wake()
        if self._ready and not self._pending:
            self.resume()

    def resume(self) -> None:
        """Push: hands the consumer the queued events, in order, for as long as it takes
        them; once a dropped subscription has handed over all, tells the consumer."""
        consumer = self._consumer
        if consumer is None or self._closed:
            return
        self._ready = True
        pending = self._pending
        while pending and self._ready:
            self._ready = consumer.deliver(self._take(pending))
        if self._dropped and not pending:
            self._closed = True
            consumer.dropped(SlowConsumer(self._last_delivered))

    def close(self) -> None:
        """Stops the subscription: the iterator ends, pending events are discarded."""
        self._closed = True
        self._pending = None
        self._bus.detach(self)
        self._wake()

    def __aiter__(self) -> MemorySubscription:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._pending:
                return self._take(self._pending)
            if self._dropped:
                raise SlowConsumer(self._last_delivered)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _take(self, pending: deque[Event]) -> Event:
        event = pending.popleft()
        if self._backlog_left:
            self._backlog_left -= 1
        self._last_delivered = event.id
        return event

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
