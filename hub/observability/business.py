"""Business metrics, derived from the domain events on the bus.

`BusinessMetrics` subscribes to every event through the `EventBus` protocol (a background
task, `start()`ed and `stop()`ped by the composition root) and counts:
- `hub_signups_total{plan}`: `user.created` events, by the plan at signup;
- `hub_conversions_total{plan}`: users reaching a paid plan (pro, team) from none or free:
  a signup on a paid plan, or a `user.updated` whose plan goes from free to a paid one;
- `hub_revenue_total{currency,plan}`: the configured monthly price of the plan, added on
  each move to a paid plan (a signup on it, an upgrade from free, or pro -> team);
- `hub_feature_usage_total{feature}`: every event, by its type (`mindmap.node_added`...);
- `hub_active_users{window}` ("5m", "24h"): distinct users (the events' `owner_id`) with
  an event in the window, counted at scrape time from each user's last event time.
Counters start at zero with the process (Prometheus' `increase` handles restarts). If the
consumer falls behind and the bus drops it, it resumes from the last event it counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.config import Business
from hub.contracts.events.v1.events_pb2 import Event
from hub.contracts.user.v1.user_pb2 import Plan
from hub.events.bus import EventBus, EventFilter, ResumeTooOld, SlowConsumer

_logger = logging.getLogger(__name__)
WINDOWS = {"5m": 300.0, "24h": 86_400.0}
_PLANS = {
    Plan.PLAN_UNSPECIFIED: "free",
    Plan.PLAN_FREE: "free",
    Plan.PLAN_PRO: "pro",
    Plan.PLAN_TEAM: "team",
}
_PAID = frozenset({"pro", "team"})


class BusinessMetrics(Collector):
    """Counts domain events into business metrics; see the module docstring."""

    def __init__(
        self,
        registry: CollectorRegistry,
        bus: EventBus,
        settings: Business,
        clock: Callable[[], float] = time.time,
        observers: Sequence[Callable[[Event], None]] = (),
    ) -> None:
        """`observers` also get every event (tracing's delivery spans), so that the bus is
        followed once."""
        self._bus = bus
        self._observers = observers
        self._clock = clock
        self._currency = settings.currency
        self._prices = settings.plan_prices.model_dump()
        self._signups = Counter(
            "hub_signups_total", "Users created, by plan at signup.", ("plan",), registry=registry
        )
        self._conversions = Counter(
            "hub_conversions_total",
            "Users reaching a paid plan from none or free (signup on it, or upgrade).",
            ("plan",),
            registry=registry,
        )
        self._revenue = Counter(
            "hub_revenue_total",
            "Monthly plan price, added on each move to a paid plan.",
            ("currency", "plan"),
            registry=registry,
        )
        self._features = Counter(
            "hub_feature_usage_total",
            "Domain events, by type (feature).",
            ("feature",),
            registry=registry,
        )
        self._last_seen: dict[str, float] = {}
        self._last_id = 0
        self._task: asyncio.Task[None] | None = None
        registry.register(self)

    def start(self) -> None:
        """Starts following the bus (events from now on)."""
        self._last_id = self._bus.last_id
        self._task = asyncio.create_task(self._follow(), name="hub-business-metrics")

    async def stop(self) -> None:
        """Stops following the bus."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        while True:
            try:
                subscription = self._bus.subscribe(EventFilter(), since=self._last_id)
            except ResumeTooOld:
                _logger.warning("business metrics: events were lost; following live ones")
                subscription = self._bus.subscribe(EventFilter())
            try:
                async for event in subscription:
                    self.record(event)
                    for observer in self._observers:
                        observer(event)
                return  # the bus closed
            except SlowConsumer:
                _logger.warning("business metrics fell behind; resuming after %d", self._last_id)
            finally:
                subscription.close()

    def record(self, event: Event) -> None:
        """Counts one event."""
        self._last_id = event.id
        self._features.labels(event.type).inc()
        if event.owner_id:
            self._last_seen[event.owner_id] = event.time.ToNanoseconds() / 1e9
        if event.HasField("user_created"):
            plan = _PLANS.get(event.user_created.user.plan, "free")
            self._signups.labels(plan).inc()
            if plan in _PAID:
                self._conversions.labels(plan).inc()
                self._paid(plan)
        elif event.HasField("user_updated"):
            plan = _PLANS.get(event.user_updated.user.plan, "free")
            before = _PLANS.get(event.user_updated.previous_plan, "free")
            if plan in _PAID and plan != before:
                if before not in _PAID:
                    self._conversions.labels(plan).inc()
                self._paid(plan)

    def _paid(self, plan: str) -> None:
        self._revenue.labels(self._currency, plan).inc(self._prices[plan])

    def collect(self) -> Iterable[GaugeMetricFamily]:
        now = self._clock()
        longest = max(WINDOWS.values())
        self._last_seen = {
            user: seen for user, seen in self._last_seen.items() if now - seen <= longest
        }
        gauge = GaugeMetricFamily(
            "hub_active_users",
            "Distinct users with at least one event within the window.",
            labels=("window",),
        )
        for window, seconds in WINDOWS.items():
            active = sum(1 for seen in self._last_seen.values() if now - seen <= seconds)
            gauge.add_metric((window,), active)
        yield gauge
