"""Event-bus, relay and WebSocket figures as metrics, read at scrape time.

`EventsCollector` asks the bus (`EventBus.stats()`), the relay (`Relay.stats()`) and the
`/ws` endpoint (`stats()`) for their counts when Prometheus scrapes, so the delivery path
carries no metric code and no prometheus import. The endpoint is known here only by the
shape of its stats (`WebSocketCounts`): observability imports no front end. Open WebSocket
connections are counted by the HTTP middleware (asgi.py) for the endpoints behind it
(GraphQL's), and read from the stats for `/ws`, which runs on its own protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.events.bus import BusStats


class RelayCounts(Protocol):
    """What the relay's `stats()` reports (hub.events.relay.RelayStats, which is not
    imported: the relay module imports the store)."""

    @property
    def pending(self) -> int:
        """Committed events not yet on the bus."""

    @property
    def lag_seconds(self) -> float:
        """Age of the oldest of them."""


class WebSocketCounts(Protocol):
    """What a WebSocket endpoint's `stats()` reports: open connections, and messages sent
    since start, by type."""

    @property
    def connections(self) -> int:
        """Connections open now."""

    @property
    def sent(self) -> Mapping[Any, int]:
        """Messages sent, by message type."""


class EventsCollector(Collector):
    """`hub_event_*`, `hub_outbox_*` and `hub_websocket_messages_sent_total` at scrape time.

    `relay`: the relay's `stats` method (None: no relay in this process, no `hub_outbox_*`
    and relay lag); `websockets`: each WebSocket endpoint's path and its `stats` method.
    """

    def __init__(
        self,
        bus: Callable[[], BusStats],
        relay: Callable[[], RelayCounts] | None,
        websockets: Mapping[str, Callable[[], WebSocketCounts]],
    ) -> None:
        self._bus = bus
        self._relay = relay
        self._websockets = websockets

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
        bus = self._bus()
        yield GaugeMetricFamily(
            "hub_event_subscriptions",
            "Open event-bus subscriptions (every front end).",
            value=bus.subscriptions,
        )
        yield GaugeMetricFamily(
            "hub_event_subscriber_queue_length",
            "Events waiting in the subscriptions' queues, summed.",
            value=bus.queued,
        )
        yield CounterMetricFamily(
            "hub_events_published", "Events the relay published to the bus.", value=bus.published
        )
        yield CounterMetricFamily(
            "hub_event_slow_consumer_disconnects",
            "Subscriptions the bus dropped because the subscriber fell behind.",
            value=bus.slow_consumer_drops,
        )
        if self._relay is not None:
            relay = self._relay()
            yield GaugeMetricFamily(
                "hub_outbox_pending_events",
                "Committed events not yet published by the relay.",
                value=relay.pending,
            )
            yield GaugeMetricFamily(
                "hub_event_relay_lag_seconds",
                "Age of the oldest committed event not yet published (0 when none is pending).",
                value=relay.lag_seconds,
            )
        sent = CounterMetricFamily(
            "hub_websocket_messages_sent",
            "WebSocket messages sent, by endpoint and message type.",
            labels=("endpoint", "type"),
        )
        for endpoint, stats in self._websockets.items():
            for kind, count in sorted(stats().sent.items()):
                sent.add_metric((endpoint, str(kind)), count)
        yield sent
