"""The HTTP server of the front ends: uvicorn, embedded in the hub's own event loop.

It serves the REST app, the GraphQL app at its path (HTTP and WebSocket), a few fixed pages
(`/metrics`) and, for WebSocket
upgrades at `/ws`, the WebSocket endpoint: the HTTP protocol hands an upgraded `/ws` socket
straight to the endpoint's own protocol (hub/frontends/websocket/wire.py: no ASGI task,
queue or lock per connection, so that an event is written to thousands of connections in
one synchronous pass), without permessage-deflate (it costs about 3x the memory per idle
connection). Everything else goes to the ASGI app, `_Dispatch`, which looks at the scope's
path and type only, so REST requests pay two comparisons and a dict lookup. The
observability middleware, when given, wraps that dispatch. WebSocket upgrades other than
`/ws` (GraphQL's) run on uvicorn's `websockets-sansio` protocol, with ping frames as the
keepalive and the message size limit of `http.websocket`; one elsewhere is refused with a
404 problem.

The composition root binds the socket (so that a taken address fails the way a gRPC one
does) and hands it over with the ASGI app. uvicorn runs with the httptools parser in the
running loop, beside the grpc.aio servers; `hub serve` makes that loop a uvloop one. The
process's signals stay with `hub serve`: `stop` is how the server ends, within a grace
period (it stops accepting, closes idle connections, lets running requests finish, then
cancels what is left).

A request the parser cannot read (not HTTP/1.1, or a URL longer than the 64 KiB httptools
can split) never reaches the app: uvicorn answers it itself, in text/plain. Here it gets
the `bad_request` answer the caller chose instead, so that the front ends' error shape
holds for every response.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
from collections.abc import Callable, Mapping
from typing import cast
from urllib.parse import unquote, urlsplit

import grpc
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from hub.config import WebSocket
from hub.frontends.rest.responses import HttpProblem
from hub.frontends.websocket.endpoint import WEBSOCKET_PATH, WebSocketEndpoint
from hub.observability.asgi import ENDPOINT_KEY


class HttpServer:
    """uvicorn serving `app`, and `websocket` at `/ws`, on a bound socket. `await start()`,
    later `await stop(grace)`."""

    def __init__(
        self,
        app: ASGIApp,
        listening: socket.socket,
        *,
        bad_request: tuple[bytes, bytes],
        websocket: WebSocketEndpoint | None = None,
        graphql: tuple[str, ASGIApp] | None = None,
        pages: Mapping[str, ASGIApp] | None = None,
        middleware: Callable[[ASGIApp], ASGIApp] | None = None,
    ) -> None:
        """`bad_request`: (content type, body) of the 400 for a request that does not parse;
        `websocket`: the endpoint of `/ws` (None: WebSocket upgrades are refused, 404);
        `graphql`: (path, app) serving HTTP and WebSocket requests to exactly that path;
        `pages`: apps answering HTTP requests at exact paths, before `app` (`/metrics`);
        `middleware`: wraps the whole ASGI dispatch (observability; `/ws` connections,
        which bypass ASGI, report through the endpoint's own counts)."""
        settings = websocket.settings if websocket is not None else WebSocket()
        dispatch: ASGIApp = _Dispatch(app, graphql, pages or {})
        self._config = uvicorn.Config(
            dispatch if middleware is None else middleware(dispatch),
            http=_httptools_answering(*bad_request, websocket=websocket),
            ws="websockets-sansio",
            ws_max_size=settings.max_message_bytes,
            ws_ping_interval=settings.ping_interval_seconds,
            ws_ping_timeout=settings.ping_timeout_seconds,
            ws_per_message_deflate=False,
            lifespan="off",
            interface="asgi3",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
        )
        self._server = uvicorn.Server(self._config)
        self._socket = listening
        self._clock: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Starts serving; returns once the server accepts connections."""
        # What uvicorn's own `serve()` does first; `serve()` itself is not used, since it
        # would take over the process's SIGTERM/SIGINT handling.
        self._config.load()
        self._server.lifespan = self._config.lifespan_class(self._config)
        await self._server.startup(sockets=[self._socket])
        # uvicorn's main loop refreshes the Date header every second until told to exit.
        self._clock = asyncio.create_task(self._server.main_loop(), name="HTTP server clock")

    async def stop(self, grace: float) -> None:
        """Stops accepting, then lets running requests finish within `grace` seconds
        (uvicorn counts whole seconds: the grace is rounded up). WebSockets still open are
        closed by uvicorn with 1012: drain the endpoint first to close them with 1001."""
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
            self._clock = None
        if self._server.started:
            self._config.timeout_graceful_shutdown = math.ceil(grace)
            await self._server.shutdown(sockets=[self._socket])
            self._server.started = False
        self._socket.close()


def _httptools_answering(
    content_type: bytes, body: bytes, *, websocket: WebSocketEndpoint | None
) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, answering an unparsable request with `body`, and
    handing WebSocket upgrades at `/ws` to `websocket`'s own protocol."""
    fixed = b"".join(
        [
            b"content-type: " + content_type + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )

    class Protocol(HttpToolsProtocol):
        def send_400_response(self, msg: str) -> None:
            default = b"".join(
                name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
            )
            self.transport.write(STATUS_LINE[400] + default + fixed)
            self.transport.close()

        def handle_websocket_upgrade(self) -> None:
            path = unquote(urlsplit(self.url.decode("latin-1")).path)
            if websocket is None or path != WEBSOCKET_PATH:
                super().handle_websocket_upgrade()
                return
            # As uvicorn's own upgrade, with the endpoint's protocol: it reads the request
            # again (as websockets parses it) and answers the handshake.
            self.connections.discard(self)
            head = [self.scope["method"].encode(), b" ", self.url, b" HTTP/1.1\r\n"]
            for name, value in self.scope["headers"]:
                head += [name, b": ", value, b"\r\n"]
            head.append(b"\r\n")
            # uvicorn types the set with its own protocols; shutdown() is all it needs
            protocol = websocket.connect(cast("set[asyncio.Protocol]", self.connections))
            protocol.connection_made(self.transport)
            protocol.data_received(b"".join(head))
            self.transport.set_protocol(protocol)

    return Protocol


class _Dispatch:
    """Requests to the GraphQL path to the GraphQL app, requests at one of `pages`' paths to
    that page's app, everything else to `http`; a WebSocket upgrade elsewhere (`/ws` never
    gets here: it has its own protocol) is refused with a 404 problem, like an unknown REST
    path. The pages name themselves in `scope["hub.endpoint"]` (REST and GraphQL name their
    own endpoints)."""

    def __init__(
        self, http: ASGIApp, graphql: tuple[str, ASGIApp] | None, pages: Mapping[str, ASGIApp]
    ) -> None:
        self._http = http
        self._graphql_path = graphql[0] if graphql is not None else ""
        self._graphql = graphql[1] if graphql is not None else None
        self._pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._graphql is not None and scope["path"] == self._graphql_path:
            scope[ENDPOINT_KEY] = self._graphql_path  # the app names the operation, if any
            await self._graphql(scope, receive, send)
        elif scope["type"] != "websocket":
            page = self._pages.get(scope["path"]) if self._pages else None
            if page is None:
                await self._http(scope, receive, send)
            else:
                scope[ENDPOINT_KEY] = scope["path"]
                await page(scope, receive, send)
        else:
            await _refuse(scope, send)


async def _refuse(scope: Scope, send: Send) -> None:
    """A 404 instead of the handshake (ASGI's WebSocket Denial Response extension)."""
    response = HttpProblem(
        404,
        f"no WebSocket endpoint at this path; connect to {WEBSOCKET_PATH}",
        code=grpc.StatusCode.NOT_FOUND,
        reason="ROUTE_NOT_FOUND",
    ).response(scope["raw_path"].decode("latin-1"))
    headers = [*response.headers, (b"content-length", str(len(response.body)).encode())]
    await send({"type": "websocket.http.response.start", "status": 404, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": response.body})
