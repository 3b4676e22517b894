"""Buses and events for the event tests: the test clock, event builders, and the type of
the `new_bus` fixture (conftest.py), which makes buses of each implementation."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from hub.contracts.events.v1.events_pb2 import Event
from hub.events.bus import EventBus, SlowConsumer

T0 = 1_767_225_600
"""A wall-clock time the tests start at (the test events are committed at T0 + id s)."""


class Clock:
    """A settable wall clock for the age bound."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def event(event_id: int, owner: str = "u1", subject: str = "", kind: str = "user.updated") -> Event:
    stamped = Event(
        id=event_id, type=kind, owner_id=owner, subject=subject or f"users/{owner}", actor=""
    )
    stamped.time.FromSeconds(T0 + event_id)
    return stamped


class BusMaker(Protocol):
    """Makes a started bus of the implementation under test."""

    def __call__(
        self, *, count: int = ..., seconds: float = ..., queue: int = ..., clock: Clock | None = ...
    ) -> Awaitable[EventBus]: ...


class Recorder:
    """A push consumer that takes `capacity` events at a time, then says it is full."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        self.capacity = capacity
        self.ids: list[int] = []
        self.drop: SlowConsumer | None = None

    def deliver(self, event: Event) -> bool:
        self.ids.append(event.id)
        return len(self.ids) % self.capacity != 0

    def dropped(self, error: SlowConsumer) -> None:
        self.drop = error
