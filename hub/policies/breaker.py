"""`CircuitBreaker`: stop calling a backend that is failing, and find out when it is back.

One breaker per backend service, consulted before every call to it, whichever front end the
call came from. The states are the usual three (Envoy, resilience4j, Polly):

- closed: calls go through; each outcome is recorded. The breaker opens after
  `consecutive_failures` failures in a row, or when, over the last `window_seconds`, at least
  `minimum_calls` calls were made and the share of failures reached `failure_ratio`.
- open: calls are refused at once (`BreakerOpen`, with the time left), without touching the
  backend, for `open_seconds`.
- half-open: then up to `half_open_probes` calls at a time go through as probes; as many
  successes in a row close the breaker, a failure opens it again for another `open_seconds`.

Only outcomes that say something about the backend's health count as failures: the caller
decides (`record(success=...)`); the gRPC policy counts UNAVAILABLE, INTERNAL, UNKNOWN and
DATA_LOSS, never NOT_FOUND or INVALID_ARGUMENT. The breaker is plain state with an
injectable monotonic clock, used from one event loop, so it needs no lock.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


class BreakerState(enum.Enum):
    """Where a breaker is; the metric exports the value."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


@dataclass(frozen=True)
class BreakerSettings:
    """When a breaker opens and how it recovers (see the module docstring)."""

    consecutive_failures: int = 5
    failure_ratio: float = 0.5
    minimum_calls: int = 20
    window_seconds: float = 10.0
    open_seconds: float = 5.0
    half_open_probes: int = 1


class BreakerOpen(Exception):
    """The breaker refused a call; retry after `retry_after` seconds."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"{name} is unavailable (circuit open); retry in {retry_after:.1f} s")
        self.name = name
        self.retry_after = retry_after


_BUCKETS = 10
"""The window is kept as this many time buckets of (calls, failures)."""
_PROBING_RETRY_SECONDS = 1.0
"""What a call refused while the probes are out is told to wait."""


class CircuitBreaker:
    """The breaker of one backend: `admit()` before a call, then `record(success)` once."""

    def __init__(
        self,
        name: str,
        settings: BreakerSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._settings = settings
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._run = 0
        """Consecutive failures while closed; consecutive successes while half-open."""
        self._probes = 0
        """Probe calls in flight while half-open."""
        self._bucket_seconds = settings.window_seconds / _BUCKETS
        self._window: deque[list[int]] = deque()
        """[bucket index, calls, failures] of the buckets within the window, oldest first."""
        self._listeners: list[Callable[[BreakerState], None]] = []

    def on_change(self, listener: Callable[[BreakerState], None]) -> None:
        """Calls `listener` with the new state at every change (for health)."""
        self._listeners.append(listener)

    @property
    def open_for(self) -> float:
        """Seconds until an open breaker lets probes through (0 when not open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(self._settings.open_seconds - (self._clock() - self._opened_at), 0.0)

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose time is up reads as half-open)."""
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self._settings.open_seconds
        ):
            self._state = BreakerState.HALF_OPEN
            self._run = self._probes = 0
            self._changed()
        return self._state

    def admit(self) -> None:
        """Lets a call through, or raises `BreakerOpen`. Every admitted call must be
        followed by exactly one `record`, or `forget` if it ended without an outcome."""
        match self.state:
            case BreakerState.CLOSED:
                return
            case BreakerState.OPEN:
                raise BreakerOpen(self.name, self.open_for)
            case BreakerState.HALF_OPEN:
                if self._probes >= self._settings.half_open_probes:
                    # Probes are out; others may go once they have answered.
                    raise BreakerOpen(self.name, _PROBING_RETRY_SECONDS)
                self._probes += 1

    def forget(self) -> None:
        """An admitted call ended without an outcome (it was cancelled): a probe slot is
        free again, nothing else changes."""
        if self._state is BreakerState.HALF_OPEN:
            self._probes = max(self._probes - 1, 0)

    def record(self, *, success: bool) -> None:
        """The outcome of an admitted call."""
        if self._state is BreakerState.HALF_OPEN:
            self._probes = max(self._probes - 1, 0)
            if not success:
                self._open()
                return
            self._run += 1
            if self._run >= self._settings.half_open_probes:
                self._close()
            return
        if self._state is BreakerState.OPEN:
            return  # a call admitted before the breaker opened: already accounted for
        self._count(success)
        self._run = 0 if success else self._run + 1
        if self._run >= self._settings.consecutive_failures or self._ratio_tripped():
            self._open()

    def _count(self, success: bool) -> None:
        index = int(self._clock() // self._bucket_seconds)
        window = self._window
        if not window or window[-1][0] != index:
            window.append([index, 0, 0])
        window[-1][1] += 1
        if not success:
            window[-1][2] += 1
        while window and window[0][0] <= index - _BUCKETS:
            window.popleft()

    def _ratio_tripped(self) -> bool:
        calls = sum(bucket[1] for bucket in self._window)
        if calls < self._settings.minimum_calls:
            return False
        failures = sum(bucket[2] for bucket in self._window)
        return failures / calls >= self._settings.failure_ratio

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._run = self._probes = 0
        self._window.clear()
        self._changed()

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._run = self._probes = 0
        self._window.clear()
        self._changed()

    def _changed(self) -> None:
        for listener in self._listeners:
            listener(self._state)
