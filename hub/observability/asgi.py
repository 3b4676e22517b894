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

import time
from collections.abc import Awaitable
from random import getrandbits
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.observability.context import CURRENT, Hop
from hub.observability.logging import AccessLog
from hub.observability.metrics import UNMATCHED, HubMetrics
from hub.observability.system import NetworkCounter
from hub.observability.tracing import Tracing

ENDPOINT_KEY = "hub.endpoint"
"""The scope key where a front end names the endpoint (route) that answered."""
_MAX_REQUEST_ID = 128


def _plain(header: bytes) -> str | None:
    """The `x-request-id` header as the request id, None if it is not a plain one."""
    if 0 < len(header) <= _MAX_REQUEST_ID:
        text = header.decode("latin-1")
        if text.isascii() and text.isprintable():
            return text
    return None


class ObservabilityMiddleware:
    """Wraps `app`; see the module docstring. `tracing`: None when tracing is off."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: HubMetrics,
        network: NetworkCounter,
        tracing: Tracing | None,
        access_log: AccessLog,
    ) -> None:
        self._app = app
        self._http = metrics.http
        self._connections = metrics.websocket_connections
        self._network = network
        self._tracing = tracing
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

    def _begin(self, scope: Scope, method: str) -> Hop:
        """The request's hop (request id, trace, span), from one pass over the headers."""
        traceparent = tracestate = header = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"tracestate":
                tracestate = value.decode("latin-1")
            elif name == b"x-request-id":
                header = value
        request_id = None if header is None else _plain(header)
        if request_id is None:
            if self._tracing is not None and traceparent is None:
                request_id = ""  # the hop starts a new trace: its trace id is the request id
            else:
                # An id, not a secret: no system call per request.
                request_id = f"{getrandbits(64):016x}"
        if self._tracing is None:
            return Hop(request_id)
        return self._tracing.server_hop(
            method,
            traceparent,
            tracestate,
            {
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope["scheme"],
            },
            request_id,
        )

    async def _serve_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        hop = self._begin(scope, scope["method"])
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
            if hop.span is not None:
                hop.span.name = f"{method} {endpoint}"
                hop.finish({"http.route": endpoint, "http.response.status_code": status})
            CURRENT.reset(token)

    async def _serve_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        hop = self._begin(scope, "GET")
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
            hop.finish({"http.route": endpoint, "http.response.status_code": status})
            CURRENT.reset(token)


def _endpoint(scope: Scope) -> str:
    endpoint: str = scope.get(ENDPOINT_KEY, UNMATCHED)
    return endpoint


def _payload_size(message: Message) -> int:
    data = message.get("bytes")
    if data is not None:
        return len(data)
    text = message.get("text")
    return len(text.encode()) if text is not None else 0
