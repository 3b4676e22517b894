"""The one ASGI middleware around the HTTP server: metrics, server span, access log, request id.

It wraps the whole HTTP dispatch (REST, documentation, `/metrics`, `/ws`, GraphQL), so no
front end has its own copy. Per HTTP request:
- the request id: the `x-request-id` header if it is a plain one (1 to 128 printable ASCII
  characters), else a generated one; kept in the request's `Hop` (context.py) for the log
  lines, and sent on to the backends by the client wrapper;
- its place in the trace the W3C `traceparent`/`tracestate` headers name (tracing.py's
  rules), and when the trace is sampled a server span, named `{method} {endpoint}` once the
  front end has routed it, with the current semantic-convention attributes
  (`http.request.method`, `url.path`, `url.scheme`, `http.route`,
  `http.response.status_code`);
- `http_requests_total` and `http_request_duration_seconds` by method, endpoint and status;
- one access line (logger `hub.access`).

The endpoint label is what the front end put in `scope["hub.endpoint"]` after routing (a
route template, `graphql:<operation>`, `/ws`, `/metrics`), "unmatched" if it set none; the
raw path never becomes a label, and metrics.py caps the number of distinct values.

WebSockets count once in `http_requests_total`, when they end (status 101 once accepted,
else the refusal's status), are not timed, and are counted open in
`hub_websocket_connections{endpoint}` from acceptance to close: every WebSocket endpoint is
counted here, `/ws` and GraphQL's alike. Payload bytes (request and response bodies,
WebSocket message payloads) are added to `NetworkCounter` (system.py).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable
from random import getrandbits
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from websockets.http11 import Request

from hub.observability.context import CURRENT, Hop
from hub.observability.logging import AccessLog
from hub.observability.metrics import UNMATCHED, HubMetrics
from hub.observability.system import NetworkCounter
from hub.observability.tracing import Tracing

ENDPOINT_KEY = "hub.endpoint"
"""The scope key where a front end names the endpoint (route) that answered."""
_MAX_REQUEST_ID = 128


def _plain(header: str | None) -> str | None:
    """The `x-request-id` header as the request id, None if there is none or it is not a
    plain one."""
    plain = (
        header is not None
        and 0 < len(header) <= _MAX_REQUEST_ID
        and header.isascii()
        and header.isprintable()
    )
    return header if plain else None


class Hops:
    """How the hop of an HTTP request or a WebSocket begins and how its span ends: shared
    by the middleware and `/ws` (`WebSocketObserver`). `tracing`: None when tracing is off."""

    def __init__(self, tracing: Tracing | None) -> None:
        self._tracing = tracing

    def begin(
        self,
        method: str,
        path: str,
        scheme: str,
        traceparent: str | None,
        tracestate: str | None,
        request_id_header: str | None,
    ) -> Hop:
        """The hop (request id, trace) of a request with these trace and `x-request-id`
        headers; with its server span started (not made current) if the trace is sampled."""
        request_id = _plain(request_id_header)
        if request_id is None:
            if self._tracing is not None and traceparent is None:
                request_id = ""  # the hop starts a new trace: its trace id is the request id
            else:
                # An id, not a secret: no system call per request.
                request_id = f"{getrandbits(64):016x}"
        if self._tracing is None:
            return Hop(request_id)
        hop = self._tracing.server_hop(traceparent, tracestate, request_id)
        if hop.sampled:
            self._tracing.start_server_span(
                hop,
                method,
                {"http.request.method": method, "url.path": path, "url.scheme": scheme},
            )
        return hop

    def end(self, hop: Hop, method: str, endpoint: str, status: int) -> None:
        """Ends the hop's server span, if it has one, named after its endpoint."""
        if self._tracing is not None and hop.span is not None:
            self._tracing.end_server_span(
                hop,
                f"{method} {endpoint}",
                {"http.route": endpoint, "http.response.status_code": status},
            )


class ObservabilityMiddleware:
    """Wraps `app`; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: HubMetrics,
        network: NetworkCounter,
        hops: Hops,
        access_log: AccessLog,
    ) -> None:
        self._app = app
        self._http = metrics.http
        self._connections = metrics.websocket_connections
        self._network = network
        self._hops = hops
        self._log = access_log

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The coroutine that serves `scope` (returned, not awaited here: one coroutine per
        request, not two)."""
        kind = scope["type"]
        if kind == "http":
            return self._serve_http(scope, receive, send)
        if kind == "websocket":
            return self._serve_websocket(scope, receive, send)
        return self._app(scope, receive, send)

    def _begin(self, scope: Scope, method: str) -> tuple[Hop, object]:
        """The request's hop, from one pass over the headers, made current; and the token
        that `_end` resets OpenTelemetry's context with (None: the hop has no span)."""
        traceparent = tracestate = header = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"tracestate":
                tracestate = value.decode("latin-1")
            elif name == b"x-request-id":
                header = value.decode("latin-1")
        hop = self._hops.begin(
            method, scope["path"], scope["scheme"], traceparent, tracestate, header
        )
        if hop.span is None:
            return hop, None
        # Current in OpenTelemetry's context, where the gRPC instrumentation finds its parent.
        return hop, otel_context.attach(trace.set_span_in_context(hop.span))

    def _end(self, hop: Hop, token: object, method: str, endpoint: str, status: int) -> None:
        """Ends the span `_begin` made current, if it did (a token: the hop has a span)."""
        if token is not None:
            self._hops.end(hop, method, endpoint, status)
            otel_context.detach(token)  # type: ignore[arg-type]

    async def _serve_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        hop, span_token = self._begin(scope, scope["method"])
        token = CURRENT.set(hop)
        network = self._network
        status = 500  # if the app fails before it answers, uvicorn answers 500

        async def receiving() -> Message:
            message = await receive()
            network.received += len(message.get("body", b""))
            return message

        def sending(message: Message) -> Awaitable[None]:
            # Returns `send`'s awaitable for the app to await: no coroutine of its own.
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                network.sent += len(message.get("body", b""))
            return send(message)

        try:
            await self._app(scope, receiving, sending)
        finally:
            seconds = time.perf_counter() - start
            method = scope["method"]
            endpoint = scope.get(ENDPOINT_KEY, UNMATCHED)
            self._http.record(method, endpoint, status, seconds)
            self._log.http(hop, method, scope["path"], endpoint, status, seconds)
            self._end(hop, span_token, method, endpoint, status)
            CURRENT.reset(token)

    async def _serve_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        hop, span_token = self._begin(scope, "GET")
        token = CURRENT.set(hop)
        network = self._network
        status = 403  # closed before the handshake: uvicorn refuses it with 403
        opened: Any = None

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                network.received += _payload_size(message)
            return message

        async def sending(message: Message) -> None:
            nonlocal status, opened
            kind = message["type"]
            if kind == "websocket.send":
                network.sent += _payload_size(message)
            elif kind == "websocket.accept":
                status = 101
                opened = self._connections.labels(_endpoint(scope))
                opened.inc()
            elif kind == "websocket.http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receiving, sending)
        finally:
            if opened is not None:
                opened.dec()
            endpoint = _endpoint(scope)
            self._http.count("GET", endpoint, status)
            self._log.http(hop, "GET", scope["path"], endpoint, status, time.perf_counter() - start)
            self._end(hop, span_token, "GET", endpoint, status)
            CURRENT.reset(token)


class WebSocketObserver:
    """What the HTTP middleware does for a WebSocket, done for `/ws`, whose connections run
    on a protocol of their own (hub/frontends/websocket), not through ASGI: per connection a
    hop (request id, trace context, server span if sampled) that its backend calls (the
    reads that authorize its subscriptions) run in, one count in `http_requests_total`
    (status 101) and one access line when it ends. Its open connections and messages are
    counted by the endpoint itself (events.py)."""

    def __init__(self, metrics: HubMetrics, hops: Hops, access_log: AccessLog) -> None:
        self._http = metrics.http
        self._hops = hops
        self._log = access_log

    def begin(self, request: Request, endpoint: str) -> ObservedConnection:
        """The observation of the connection `request` opened (its handshake accepted) at
        `endpoint`."""
        headers = request.headers
        path = urlsplit(request.path).path  # not the query: it may hold an access token
        hop = self._hops.begin(
            "GET",
            path,
            "ws",
            headers.get("traceparent"),
            headers.get("tracestate"),
            headers.get("x-request-id"),
        )
        context = contextvars.copy_context()
        context.run(CURRENT.set, hop)
        if hop.span is not None:
            context.run(otel_context.attach, trace.set_span_in_context(hop.span))
        return ObservedConnection(self, hop, path, endpoint, context)

    def end(self, connection: ObservedConnection) -> None:
        """Counts, logs and ends the span of `connection`, which has ended."""
        seconds = time.perf_counter() - connection.start
        self._http.count("GET", connection.endpoint, 101)
        self._log.http(connection.hop, "GET", connection.path, connection.endpoint, 101, seconds)
        self._hops.end(connection.hop, "GET", connection.endpoint, 101)


class ObservedConnection:
    """One `/ws` connection being observed: `context` is where the calls made for it run
    (`asyncio.create_task(..., context=...)`); `end()` once it has ended."""

    __slots__ = ("_observer", "context", "endpoint", "hop", "path", "start")

    def __init__(
        self,
        observer: WebSocketObserver,
        hop: Hop,
        path: str,
        endpoint: str,
        context: contextvars.Context,
    ) -> None:
        self._observer = observer
        self.hop = hop
        self.path = path
        self.endpoint = endpoint
        self.context = context
        self.start = time.perf_counter()

    def end(self) -> None:
        """The connection has ended."""
        self._observer.end(self)


def _endpoint(scope: Scope) -> str:
    endpoint: str = scope.get(ENDPOINT_KEY, UNMATCHED)
    return endpoint


def _payload_size(message: Message) -> int:
    data = message.get("bytes")
    if data is not None:
        return len(data)
    text = message.get("text")
    return len(text.encode()) if text is not None else 0
