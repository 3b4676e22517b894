"""The HTTP server of the front ends: uvicorn, embedded in the hub's own event loop.

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

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol


class HttpServer:
    """uvicorn serving `app` on a bound socket. `await start()`, later `await stop(grace)`."""

    def __init__(
        self, app: ASGIApp, listening: socket.socket, *, bad_request: tuple[bytes, bytes]
    ) -> None:
        """`bad_request`: (content type, body) of the 400 for a request that does not parse."""
        self._config = uvicorn.Config(
            app,
            http=_httptools_answering(*bad_request),
            ws="none",
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
        (uvicorn counts whole seconds: the grace is rounded up)."""
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


def _httptools_answering(content_type: bytes, body: bytes) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, answering an unparsable request with `body`."""
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

    return Protocol
