"""The one ASGI middleware around the HTTP server: metrics, server span, access log, request id.

It wraps the whole HTTP dispatch (REST, documentation, `/metrics`, `/ws`, GraphQL), so no
front end has its own copy. Per HTTP request:
- the request id: the `x-request-id` header if it is a plain one (1 to 128 printable ASCII
  characters), else a generated one; kept in `REQUEST_ID` for the log lines and sent on to
  the backends by the client interceptor;
- a server span under the W3C `traceparent`/`tracestate` the request carries (tracing.py's
  rules), named `{method} {endpoint}` once the front end has routed it, with the current
  semantic-convention attributes (`http.request.method`, `url.path`, `url.scheme`,
  `http.route`, `http.response.status_code`);
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
from random import getrandbits
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.observability.logging import REQUEST_ID, AccessLog
from hub.observability.metrics import UNMATCHED, HubMetrics
from hub.observability.system import NetworkCounter
from hub.observability.tracing import ServerHop, Tracing

ENDPOINT_KEY = "hub.endpoint"
"""The scope key where a front end names the endpoint (route) that answered."""
_MAX_REQUEST_ID = 128


def _request_id(header: bytes | None) -> str:
    if header is not None and 0 < len(header) <= _MAX_REQUEST_ID:
        text = header.decode("latin-1")
        if text.isascii() and text.isprintable():
            return text
    return f"{getrandbits(64):016x}"  # an id, not a secret: no system call per request


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._serve_http(scope, receive, send)
        elif kind == "websocket":
            await self._serve_websocket(scope, receive, send)
        else:
            await self._app(scope, receive, send)

    def _begin(self, scope: Scope, method: str) -> ServerHop | None:
        """Sets the request id and starts the server hop, from one pass over the headers."""
        traceparent = tracestate = request_id = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"tracestate":
                tracestate = value.decode("latin-1")
            elif name == b"x-request-id":
                request_id = value
        REQUEST_ID.set(_request_id(request_id))
        if self._tracing is None:
            return None
        return self._tracing.server_hop(
            method,
            traceparent,
            tracestate,
            {
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope["scheme"],
            },
        )

    async def _serve_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        hop = self._begin(scope, scope["method"])
        network = self._network
        status = 500  # if the app fails before it answers, uvicorn answers 500

        async def receiving() -> Message:
            message = await receive()
            network.received += len(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                network.sent += len(message.get("body", b""))
            await send(message)

        try:
            await self._app(scope, receiving, sending)
        finally:
            seconds = time.perf_counter() - start
            method = scope["method"]
            endpoint = scope.get(ENDPOINT_KEY, UNMATCHED)
            self._http.count(method, endpoint, status)
            self._http.observe(method, endpoint, seconds)
            self._access(method, scope, endpoint, status, seconds)
            if hop is not None:
                if hop.span is None:
                    hop.finish()
                else:
                    hop.span.update_name(f"{method} {endpoint}")
                    hop.finish({"http.route": endpoint, "http.response.status_code": status})

    async def _serve_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        hop = self._begin(scope, "GET")
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
            self._access("GET", scope, endpoint, status, time.perf_counter() - start)
            if hop is not None:
                hop.finish({"http.route": endpoint, "http.response.status_code": status})

    def _access(
        self, method: str, scope: Scope, endpoint: str, status: int, seconds: float
    ) -> None:
        if self._log.enabled:
            self._log.write(
                "http request",
                {
                    "method": method,
                    "path": scope["path"],
                    "endpoint": endpoint,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )


def _endpoint(scope: Scope) -> str:
    endpoint: str = scope.get(ENDPOINT_KEY, UNMATCHED)
    return endpoint


def _payload_size(message: Message) -> int:
    data = message.get("bytes")
    if data is not None:
        return len(data)
    text = message.get("text")
    return len(text.encode()) if text is not None else 0
