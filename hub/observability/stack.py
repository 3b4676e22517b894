"""`Observability`: everything observability of one hub, built from `observability` settings.

The composition root builds one per hub (when `observability.enabled`) and asks it for the
parts it wires in (after telling it the event figures to export, `watch_events`, and the
policies', `watch_policies`): a server interceptor per grpc server (`server_interceptor`), the
wrapper of `BackendClient`'s channels (`wrap_channel`), the middleware that wraps the HTTP
dispatch (`wrap`), its counterpart for `/ws` (`websocket_observer`), and the `/metrics` app
(`metrics_app`). `start()` starts the business
metrics consumer, `stop()` stops it and flushes the tracer provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from grpc import aio
from opentelemetry.sdk.trace.export import SpanExporter
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from hub.config import Observability as ObservabilitySettings
from hub.events.bus import BusStats, EventBus
from hub.observability.asgi import Hops, ObservabilityMiddleware, WebSocketObserver
from hub.observability.business import BusinessMetrics
from hub.observability.events import EventsCollector, RelayCounts, WebSocketCounts
from hub.observability.grpc import ServerObservability
from hub.observability.grpc_client import ClientObservability
from hub.observability.logging import AccessLog
from hub.observability.metrics import GrpcServer, HubMetrics, metrics_app
from hub.observability.policies import CacheCounts, PoliciesCollector
from hub.observability.system import NetworkCounter, register_system
from hub.observability.tracing import Tracing


class Observability:
    """Registry, metrics, collectors, tracing and interceptors of one hub."""

    def __init__(
        self,
        settings: ObservabilitySettings,
        bus: EventBus,
        *,
        business: bool = True,
        span_exporter: SpanExporter | None = None,
        access_log: AccessLog | None = None,
    ) -> None:
        """`business`: count business metrics from the bus (where the gateway runs: every
        gateway replica counts every event); `span_exporter`: a test's exporter, which
        turns tracing on; `access_log`: from `configure_logging` (default: records of
        `hub.access`)."""
        self.settings = settings
        self.access_log = AccessLog() if access_log is None else access_log
        self.registry = CollectorRegistry()
        self.metrics = HubMetrics(self.registry)
        self.network = NetworkCounter()
        register_system(self.registry, self.network)
        self._bus_stats: Callable[[], BusStats] = bus.stats
        traced = span_exporter is not None or settings.tracing.exporter != "none"
        self.tracing = Tracing(settings.tracing, span_exporter) if traced else None
        self.business = (
            BusinessMetrics(
                self.registry,
                bus,
                settings.business,
                observers=() if self.tracing is None else (self.tracing.delivered,),
            )
            if business
            else None
        )
        self._client = ClientObservability(self.metrics.grpc_client, self.tracing)
        self._hops = Hops(self.tracing)

    def watch_events(
        self,
        relay: Callable[[], RelayCounts] | None,
        websockets: Mapping[str, Callable[[], WebSocketCounts]],
    ) -> None:
        """Exports the bus's figures, with the relay's (`relay`: its stats method, None in
        a process without one) and each WebSocket endpoint's (its stats method by path)."""
        self.registry.register(EventsCollector(self._bus_stats, relay, websockets))
        for path, stats in websockets.items():
            # Endpoints on their own protocol (`/ws`) bypass the HTTP middleware, which counts
            # the others' connections: theirs are read from their stats at scrape time.
            self.metrics.websocket_connections.labels(endpoint=path).set_function(
                _connections_of(stats)
            )

    def watch_policies(
        self,
        breakers: Mapping[str, Callable[[], int]],
        cache: Callable[[], CacheCounts] | None,
        store_failures: Mapping[str, Callable[[], int]],
    ) -> None:
        """Exports the policies' state (`hub.observability.policies`)."""
        self.registry.register(PoliciesCollector(breakers, cache, store_failures))

    @property
    def metrics_path(self) -> str:
        """Where the HTTP server serves the metrics."""
        return self.settings.metrics.path

    def metrics_app(self) -> ASGIApp:
        """The `GET /metrics` app."""
        return metrics_app(self.registry)

    def server_interceptor(self, server: GrpcServer) -> ServerObservability:
        """The interceptor of one grpc server (each server gets its own)."""
        return ServerObservability(self.metrics.grpc_server, server, self.tracing, self.access_log)

    def wrap_channel(self, channel: aio.Channel) -> aio.Channel:
        """A channel of `BackendClient`, with its calls observed."""
        return self._client.wrap(channel)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """`app` inside the HTTP middleware."""
        return ObservabilityMiddleware(app, self.metrics, self.network, self._hops, self.access_log)

    def websocket_observer(self) -> WebSocketObserver:
        """What observes the connections of an endpoint outside ASGI (`/ws`)."""
        return WebSocketObserver(self.metrics, self._hops, self.access_log)

    def start(self) -> None:
        """Starts the business metrics consumer, if any (once the bus is up)."""
        if self.business is not None:
            self.business.start()

    async def stop(self) -> None:
        """Stops the consumer, writes the access lines still buffered, and flushes the
        spans not yet exported."""
        if self.business is not None:
            await self.business.stop()
        self.access_log.flush()
        if self.tracing is not None:
            self.tracing.shutdown()


def _connections_of(stats: Callable[[], WebSocketCounts]) -> Callable[[], float]:
    return lambda: float(stats().connections)
