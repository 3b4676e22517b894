"""The `EventBus` interface: committed domain events, fanned out to subscribers, resumable.

The relay (relay.py) publishes outbox events to the bus in id order; front ends (WebSocket,
gRPC `WatchEvents`, GraphQL subscriptions) subscribe with a filter and an optional resume
point. Contract, for every implementation (memory.py in one process, redis.py shared by
several):

- Events are published in strictly increasing id order; a subscriber receives the events
  that match its filter in that order, each once.
- Retention: the bus keeps the most recent events, bounded by count and by age. Subscribing
  with `since` (the id of the last event the subscriber saw) first delivers every retained
  matching event with a larger id, then live ones, with no gap and no duplicate at the seam.
  If events after `since` are no longer retained, `subscribe` raises `ResumeTooOld` at once
  (never skips silently); the subscriber may start again without `since`.
- Backpressure: each subscription has a bounded queue. A subscriber that falls further
  behind than that is dropped: its iterator raises `SlowConsumer` once the events it did
  receive are consumed, so one slow client neither grows memory without bound nor delays
  the others; it may resume with the last id it saw.

Two ways to consume, with the same guarantees: `subscribe` gives an async iterator (gRPC
`WatchEvents`, GraphQL subscriptions); `push` calls a `Consumer` synchronously from
`publish` (the WebSocket endpoint, which writes each event to its socket at once: no task
and no queue per subscriber while it keeps up). A consumer that cannot take more says so;
the bus then queues its events, bounded as above, until the consumer calls `resume()`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import Protocol

from hub.contracts.events.v1.events_pb2 import Event


class ResumeTooOld(Exception):
    """The events after the requested id are no longer retained."""

    def __init__(self, since: int, oldest_retained: int) -> None:
        super().__init__(
            f"events after {since} are no longer retained (oldest kept: {oldest_retained}); "
            "subscribe without a resume point to start from live events"
        )
        self.since = since
        self.oldest_retained = oldest_retained


class SlowConsumer(Exception):
    """The subscriber fell too far behind and was dropped; resume from its last id."""

    def __init__(self, last_delivered: int) -> None:
        super().__init__(
            f"subscriber fell behind and was dropped after event {last_delivered}; "
            "resume from the last event id received"
        )
        self.last_delivered = last_delivered


@dataclass(frozen=True)
class BusStats:
    """What a bus reports for metrics, read at scrape time."""

    subscriptions: int
    """Subscriptions open now."""
    queued: int
    """Events waiting in every subscription's queue, summed."""
    published: int
    """Events published since the bus started."""
    slow_consumer_drops: int
    """Subscriptions dropped for falling behind, since the bus started."""


@dataclass(frozen=True)
class EventFilter:
    """Which events a subscriber wants; an empty criterion matches everything.

    `owner_id`: events of one user (about the user or their mindmaps); `subject`: one
    resource (`mindmaps/{id}`, `users/{id}`); `types`: event types (`mindmap.node_added`).
    """

    owner_id: str = ""
    subject: str = ""
    types: frozenset[str] = field(default_factory=frozenset)

    def matches(self, event: Event) -> bool:
        """Whether `event` passes every criterion set."""
        return (
            (not self.owner_id or event.owner_id == self.owner_id)
            and (not self.subject or event.subject == self.subject)
            and (not self.types or event.type in self.types)
        )


class Consumer(Protocol):
    """Takes the events of a push subscription, synchronously, as the bus publishes them.
    Neither method may raise, nor close a subscription from inside the call."""

    def deliver(self, event: Event) -> bool:
        """Takes `event`; returns whether it can take the next one now. False: the
        subscription queues what follows (bounded) until `PushSubscription.resume()`."""

    def dropped(self, error: SlowConsumer) -> None:
        """The subscription fell too far behind and ended, after delivering every event it
        had queued; `error.last_delivered` is where to resume."""


class EventBus(Protocol):
    """Fan-out of committed events; see the module docstring for the contract."""

    async def start(self) -> None:
        """Makes the bus ready (a shared bus: connects and loads what it retains); call it
        once, before anything subscribes or publishes."""

    async def publish(self, events: Collection[Event]) -> None:
        """Delivers `events` (ids strictly increasing, above every id published before)."""

    def subscribe(self, event_filter: EventFilter, since: int | None = None) -> Subscription:
        """A subscription from `since` (exclusive) or from now; `ResumeTooOld` if the events
        after `since` are gone."""

    def push(
        self, event_filter: EventFilter, consumer: Consumer, since: int | None = None
    ) -> PushSubscription:
        """A subscription from `since` (exclusive) or from now that delivers to `consumer`
        once `resume()` is first called (so the subscriber can announce it before any
        event); `ResumeTooOld` if the events after `since` are gone."""

    @property
    def last_id(self) -> int:
        """The id of the last event published (0 before any)."""

    def stats(self) -> BusStats:
        """Counts for metrics; cheap enough to call at every scrape."""

    async def close(self) -> None:
        """Ends every subscription (their iterators stop) and releases resources."""


class Subscription(Protocol):
    """One subscriber's stream; iterate it, close it when done."""

    def __aiter__(self) -> AsyncIterator[Event]:
        """The matching events, in id order; raises `SlowConsumer` if dropped."""

    @property
    def queued(self) -> int:
        """Events waiting to be consumed (for metrics)."""

    def close(self) -> None:
        """Stops the subscription; the iterator ends."""


class PushSubscription(Protocol):
    """One subscriber's push stream; close it when done."""

    def resume(self) -> None:
        """The consumer takes events (again): the queued ones first, in order."""

    @property
    def queued(self) -> int:
        """Events waiting for the consumer (for metrics)."""

    def close(self) -> None:
        """Stops the subscription; nothing more is delivered."""
