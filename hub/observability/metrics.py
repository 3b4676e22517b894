"""The metric families of one hub, in its own registry, and the `/metrics` page that shows them.

`HubMetrics` builds every family the gRPC wrappers and the HTTP middleware record into a
fresh `CollectorRegistry` (never prometheus_client's global one, so two hubs in one process
do not collide); collectors that read at scrape time (system.py, events.py, business.py)
register into the same registry. Recording is on the request path, so the request-path
families are families.py's (plain arithmetic, exported at scrape time), and each keeps its
series in a dict keyed by the label values, looked up once per distinct combination (a gRPC
method's series once per method, when its handler is wrapped).

Label values are bounded: HTTP methods outside the standard set become "other", and at most
`MAX_ENDPOINTS` distinct endpoints are recorded; any further one becomes "other", so that
nothing a client sends grows the label set without bound.

`metrics_app` is the ASGI app of `GET /metrics`: the classic text format 0.0.4, as
`generate_latest` writes it (not OpenMetrics, which `promtool check metrics` misreads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.types import Receive, Scope, Send

from hub.observability.families import Count, CounterFamily, HistogramFamily, Timing

MAX_ENDPOINTS = 500
"""Distinct `endpoint` label values recorded; any further endpoint is recorded as "other"."""
OTHER = "other"
UNMATCHED = "unmatched"
"""The endpoint of a request that no route matched."""
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

GrpcSide: TypeAlias = Literal["server", "client"]
GrpcServer: TypeAlias = Literal["frontend", "backend"]
"""The `grpc_server` label of server metrics: the public front end or a backend service."""

_GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")


class HttpMetrics:
    """`http_requests_total` and `http_request_duration_seconds`, with their series kept
    by (method, endpoint, status) as the middleware sees them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests = CounterFamily(
            "http_requests_total",
            "HTTP requests answered (a WebSocket counts once, when it ends: status 101 if "
            "accepted), by method, endpoint (route template) and status code.",
            ("method", "endpoint", "status"),
            registry,
        )
        self._duration = HistogramFamily(
            "http_request_duration_seconds",
            "Time from receiving an HTTP request to the end of its response (WebSockets are "
            "not observed), by method and endpoint.",
            ("method", "endpoint"),
            registry,
        )
        self._counted: dict[tuple[str, str, int], Count] = {}
        self._recorded: dict[tuple[str, str, int], tuple[Count, Timing]] = {}
        self._endpoints: set[str] = set()

    def endpoint(self, endpoint: str) -> str:
        """`endpoint` as a label value: itself while fewer than MAX_ENDPOINTS are known."""
        if endpoint in self._endpoints:
            return endpoint
        if len(self._endpoints) < MAX_ENDPOINTS:
            self._endpoints.add(endpoint)
            return endpoint
        return OTHER

    def count(self, method: str, endpoint: str, status: int) -> None:
        """One ended WebSocket (counted, not timed)."""
        self._count_series(method, endpoint, status).value += 1

    def record(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        """One answered HTTP request and its duration (both series found by one lookup)."""
        key = (method, endpoint, status)
        series = self._recorded.get(key)
        if series is None:
            timing = self._duration.series(_method(method), self.endpoint(endpoint))
            series = self._recorded[key] = (self._count_series(method, endpoint, status), timing)
        series[0].value += 1
        series[1].observe(seconds)

    def _count_series(self, method: str, endpoint: str, status: int) -> Count:
        key = (method, endpoint, status)
        series = self._counted.get(key)
        if series is None:
            label = self.endpoint(endpoint)
            series = self._requests.series(_method(method), label, str(status))
            self._counted[key] = series
        return series


def _method(method: str) -> str:
    return method if method in _METHODS else OTHER


@dataclass
class MethodMetrics:
    """The series of one gRPC method on one side: add 1 to `started.value`,
    `received.value` and `sent.value` as the call goes, and `finish` it."""

    started: Count
    handling: Timing
    received: Count
    sent: Count
    handled_family: CounterFamily
    labels: tuple[str, ...]
    handled: dict[str, Count] = field(default_factory=dict)

    def finish(self, code: str, seconds: float) -> None:
        """The call ended with `code` ("OK", "NotFound", ...) after `seconds`."""
        series = self.handled.get(code)
        if series is None:
            series = self.handled[code] = self.handled_family.series(*self.labels, code)
        series.value += 1
        self.handling.observe(seconds)


class GrpcMetrics:
    """The grpc-ecosystem (go-grpc-prometheus) families of one side, server or client.

    Server metrics carry one more label, `grpc_server` ("frontend" or "backend"): in the
    embedded default the public front end and the user backend serve the same service in
    one process, and this tells their calls apart.
    """

    def __init__(self, registry: CollectorRegistry, side: GrpcSide) -> None:
        extra = ("grpc_server",) if side == "server" else ()
        labels = (*_GRPC_LABELS, *extra)
        who = "RPCs this hub served" if side == "server" else "RPCs the hub made to backends"
        self._started = CounterFamily(
            f"grpc_{side}_started_total", f"{who}: started.", labels, registry
        )
        self._handled = CounterFamily(
            f"grpc_{side}_handled_total",
            f"{who}: completed, by gRPC status code.",
            (*labels, "grpc_code"),
            registry,
        )
        self._handling = HistogramFamily(
            f"grpc_{side}_handling_seconds",
            f"{who}: time from start to completion.",
            labels,
            registry,
        )
        self._received = CounterFamily(
            f"grpc_{side}_msg_received_total",
            f"{who}: stream messages received.",
            labels,
            registry,
        )
        self._sent = CounterFamily(
            f"grpc_{side}_msg_sent_total",
            f"{who}: stream messages sent.",
            labels,
            registry,
        )

    def method(self, grpc_type: str, full_method: str, *extra: str) -> MethodMetrics:
        """The series of `full_method` (`/pkg.Service/Method`); `extra`: the
        `grpc_server` value on the server side. Call once per method and keep the result."""
        service, _, name = full_method.lstrip("/").partition("/")
        labels = (grpc_type, service, name, *extra)
        return MethodMetrics(
            started=self._started.series(*labels),
            handling=self._handling.series(*labels),
            received=self._received.series(*labels),
            sent=self._sent.series(*labels),
            handled_family=self._handled,
            labels=labels,
        )


class HubMetrics:
    """Every metric family the request path records, in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.http = HttpMetrics(registry)
        self.grpc_server = GrpcMetrics(registry, "server")
        self.grpc_client = GrpcMetrics(registry, "client")
        self.websocket_connections = Gauge(
            "hub_websocket_connections",
            "Open WebSocket connections, by endpoint (counted by the HTTP middleware).",
            ("endpoint",),
            registry=registry,
        )


def metrics_app(registry: CollectorRegistry) -> _MetricsApp:
    """The ASGI app answering `GET` (and HEAD) with `registry` in the text format 0.0.4."""
    return _MetricsApp(registry)


class _MetricsApp:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, b"text/plain; charset=utf-8", b"use GET\n", b"GET, HEAD")
            return
        body = generate_latest(self._registry)
        await _answer(
            send, 200, CONTENT_TYPE_PLAIN_0_0_4.encode(), body, head=scope["method"] == "HEAD"
        )


async def _answer(
    send: Send,
    status: int,
    content_type: bytes,
    body: bytes,
    allow: bytes = b"",
    *,
    head: bool = False,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if allow:
        headers.append((b"allow", allow))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
