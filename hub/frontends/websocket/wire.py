"""`WireProtocol`: one server-side WebSocket connection, driven without a task of its own.

The `/ws` endpoint's connections run on this lean asyncio protocol instead of uvicorn's ASGI
path (which keeps an ASGI task, a receive queue and events per connection): the HTTP server
hands the upgraded socket over to it (hub/frontends/http.py), and it parses frames with
websockets' sans-I/O `ServerProtocol` (the one uvicorn's `websockets-sansio` uses). Nothing
here awaits: a client's text message is handed to `received` as it is read, and messages
are written to the transport at once, so that the event bus can write an event to thousands
of connections in one synchronous pass, each frame built once (`text_frame`).

What it owns, as uvicorn's protocol did: the opening handshake, ping frames every
`ping_interval_seconds` (no pong within `ping_timeout_seconds`: close 1011; the first ping
at a random point of the first interval, so that connections opened together are not
pinged together), answering the
client's pings and close, the message size limit (1009), text that is not UTF-8 (1007),
the closing handshake (the TCP connection is closed once the client echoes the close frame,
or after `CLOSE_TIMEOUT_SECONDS`), and uvicorn's shutdown (1012 to what is still open). A
client that stopped answering (keepalive timeout, no close echo) with data still buffered
for it is aborted (TCP reset), so a dead client holds no memory for ever.

Flow control: the transport tells when its write buffer passes its high-water mark
(`writable` turns False) and when it has drained (`writable_again`). Meanwhile the client's
input is not read either, so a client that sends but never reads cannot make the hub buffer
answers without bound.

Subclasses implement `handshake`, `opened`, `received`, `received_binary`, `writable_again`
and `ended`.
"""

from __future__ import annotations

import asyncio
import random
import struct
from typing import cast

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from hub.config import WebSocket

CLOSE_TIMEOUT_SECONDS = 10.0
"""How long a closed connection waits for the client's close frame before ending the TCP
connection (as uvicorn)."""
SERVICE_RESTART = 1012
KEEPALIVE_TIMEOUT = 1011
INVALID_DATA = 1007
_FIRST_PING_EARLIEST = 0.1
"""The first ping comes after this fraction of the interval at the earliest."""


def text_frame(text: str) -> bytes:
    """The bytes of an unmasked (server) text frame carrying `text`."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class WireProtocol(asyncio.Protocol):
    """One WebSocket connection after the HTTP upgrade; see the module docstring."""

    __slots__ = (
        "_close_timer",
        "_connections",
        "_fragments",
        "_ping_payload",
        "_settings",
        "_timer",
        "_transport",
        "closing",
        "conn",
        "writable",
    )

    def __init__(self, settings: WebSocket, connections: set[asyncio.Protocol]) -> None:
        """`connections`: the HTTP server's set of open connections, which its shutdown
        goes through (`shutdown`)."""
        self._settings = settings
        self._connections = connections
        self.conn = ServerProtocol(max_size=settings.max_message_bytes)
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        """The next ping, or the deadline of the pong of the ping sent."""
        self._ping_payload: bytes | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._fragments: list[bytes] | None = None
        self.closing = False
        """No more messages go either way: a close frame was sent or the connection is gone."""
        self.writable = True
        """The transport takes more without passing its write buffer's high-water mark."""

    # What subclasses do.

    def handshake(self, request: Request) -> None:
        """The client's opening request, before it is answered (its headers, its path)."""

    def opened(self) -> None:
        """The handshake is complete."""

    def received(self, text: str) -> None:
        """A text message from the client."""

    def received_binary(self) -> None:
        """A binary message from the client."""

    def writable_again(self) -> None:
        """The write buffer has drained below its low-water mark."""

    def ended(self) -> None:
        """No message goes either way any more (called once)."""

    def client_address(self) -> str:
        """The client's address ("" if unknown)."""
        transport = self._transport
        peer = None if transport is None else transport.get_extra_info("peername")
        return str(peer[0]) if isinstance(peer, tuple) and peer else ""

    # Writing.

    def write(self, frame: bytes) -> None:
        """Writes a frame built by `text_frame` (nothing once `closing`)."""
        if self.closing:
            return
        transport = self._live_transport()
        if transport is not None:
            transport.write(frame)

    def close(self, code: int, reason: str) -> None:
        """Sends a close frame with `code` (once); the TCP connection ends when the client
        answers, or after `CLOSE_TIMEOUT_SECONDS`."""
        if self.closing or self._transport is None:
            return
        self.conn.send_close(code, reason)
        self._flush()
        self._end()
        transport = self._live_transport()
        if transport is not None and not self.writable:
            transport.resume_reading()  # to read the client's close frame
        self._close_timer = asyncio.get_running_loop().call_later(
            CLOSE_TIMEOUT_SECONDS, self._close_transport, True
        )

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._cancel_timers()
        self._end()

    def pause_writing(self) -> None:
        self.writable = False
        transport = self._live_transport()
        if transport is not None and not self.closing:
            transport.pause_reading()

    def resume_writing(self) -> None:
        self.writable = True
        transport = self._live_transport()
        if transport is not None and not self.closing:
            transport.resume_reading()
            self.writable_again()

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        conn.receive_data(data)
        for event in conn.events_received():
            if isinstance(event, Request):
                self._handshake(event)
            elif isinstance(event, Frame):
                self._frame(event)
        if conn.parser_exc is not None:  # conn.fail() wrote the close frame (1002, 1009, ...)
            self._flush()
            self._end()
            self._close_transport()
        elif conn.state is State.CLOSED or conn.close_rcvd is not None:
            self._flush()  # the echo of the client's close frame
            self._end()
            self._close_transport()
        else:
            self._flush()  # pongs

    def eof_received(self) -> bool | None:
        self.conn.receive_eof()
        self._end()
        return None  # the transport closes itself

    def shutdown(self) -> None:
        """The HTTP server is stopping (uvicorn calls this): 1012 unless closing already."""
        self._cancel_timers()
        if not self.closing and self.conn.state is State.OPEN:
            self.conn.send_close(SERVICE_RESTART)
            self._flush()
        self._end()
        self._close_transport()

    # Inside.

    def _handshake(self, request: Request) -> None:
        self.handshake(request)
        conn = self.conn
        response = conn.accept(request)
        conn.send_response(response)
        self._flush()
        if response.status_code != 101:
            self.closing = True
            self._close_transport()
            return
        self._schedule_ping(first=True)
        self.opened()

    def _frame(self, frame: Frame) -> None:
        if self.closing:
            return
        match frame.opcode:
            case Opcode.TEXT:
                if frame.fin:
                    self._text(frame.data)
                else:
                    self._fragments = [bytes(frame.data)]
            case Opcode.CONT if self._fragments is not None:
                self._fragments.append(bytes(frame.data))
                if frame.fin:
                    whole, self._fragments = b"".join(self._fragments), None
                    self._text(whole)
            case Opcode.BINARY | Opcode.CONT:
                self.received_binary()
            case Opcode.PONG:
                if self._ping_payload is not None and frame.data == self._ping_payload:
                    self._ping_payload = None
                    if self._timer is not None:
                        self._timer.cancel()  # the pong's deadline
                    self._schedule_ping()
            case _:  # PING: the pong is queued in conn; CLOSE: handled after the frames
                pass

    def _text(self, data: bytes | bytearray | memoryview) -> None:
        try:
            text = bytes(data).decode()
        except UnicodeDecodeError as error:
            self.close(INVALID_DATA, f"invalid UTF-8 at position {error.start}")
            return
        self.received(text)

    def _schedule_ping(self, *, first: bool = False) -> None:
        """The next ping in one interval; the first one at a random point of it, so that
        clients that connected together (a reconnect storm, a benchmark) are not all pinged
        in the same instant, each time, in a burst that would delay events."""
        delay = self._settings.ping_interval_seconds
        if first:
            delay *= random.uniform(_FIRST_PING_EARLIEST, 1.0)  # noqa: S311 (not security)
        self._timer = asyncio.get_running_loop().call_later(delay, self._ping)

    def _ping(self) -> None:
        if self.closing:
            return
        self._ping_payload = struct.pack("!I", random.getrandbits(32))
        self.conn.send_ping(self._ping_payload)
        self._flush()
        self._timer = asyncio.get_running_loop().call_later(
            self._settings.ping_timeout_seconds, self._keepalive_timeout
        )

    def _keepalive_timeout(self) -> None:
        if self.closing:
            return
        self.conn.fail(KEEPALIVE_TIMEOUT, "keepalive ping timeout")
        self._flush()
        self._end()
        self._close_transport(stuck=True)

    def _flush(self) -> None:
        data = b"".join(self.conn.data_to_send())  # b"" chunks: end of stream, see below
        transport = self._live_transport()
        if data and transport is not None:
            transport.write(data)

    def _live_transport(self) -> asyncio.Transport | None:
        """The transport, unless it is closing: uvloop's raises on a write once its socket
        has failed, before `connection_lost` tells this protocol, and a write that raised
        would stop the bus's delivery to every later subscriber."""
        transport = self._transport
        return None if transport is None or transport.is_closing() else transport

    def _end(self) -> None:
        if not self.closing:
            self.closing = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.ended()

    def _close_transport(self, stuck: bool = False) -> None:
        """Ends the TCP connection once what is buffered is written; `stuck`: the client
        stopped answering, so at once if anything is still buffered (it would never be
        read, and a close would wait for it for ever)."""
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        transport = self._transport
        if transport is None:
            return
        if stuck and transport.get_write_buffer_size():
            transport.abort()
        else:
            transport.close()

    def _cancel_timers(self) -> None:
        for timer in (self._timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._close_timer = None
