"""The `/ws` endpoint: subscriptions to the event bus, over one WebSocket per client.

A plain ASGI callable for `websocket` scopes (the HTTP server routes them here). Per
connection, the connection's own task reads the client's messages (`messages.py`) and
answers each at once; every subscription gets a task that moves its events from the bus to
the socket, so subscriptions never wait for one another. Every message is written whole
under the connection's lock, so the `subscribed` answer precedes the subscription's
events and `unsubscribed` follows its last one.

Backpressure: the bus gives each subscription a bounded queue (`events.subscriber_queue`).
Writing to a client that does not read waits (uvicorn pauses a socket whose buffer is full),
so its queue fills and the bus drops the subscription without delaying anyone else. Once the
events the bus had queued are written, the client gets an `error` SLOW_CONSUMER and the close
code 4000; it may resume with `since` = the last event id it received. A client that never
reads again holds no more than its bounded queue and socket buffers until the keepalive
(ping frames, `http.websocket.ping_*`, closing with 1011 without a pong) gives up on it.

Close codes the hub sends (also in asyncapi/hub.yaml):
- 1001 going away: the hub is shutting down; reconnect (to another instance) and resume.
- 1003 unsupported data: a binary frame (the protocol is JSON text frames).
- 1007 invalid data: a text frame that is not UTF-8 (uvicorn closes it).
- 1009 message too big: a message above `http.websocket.max_message_bytes`.
- 1011 keepalive timeout: no pong to a ping frame within `ping_timeout_seconds`.
- 4000 slow consumer: resume with `since` = the last event id received.

Authentication (issue 7) goes in `__call__` before the handshake is accepted, as for the
other front ends; until then every client may subscribe to any user or mindmap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Literal, TypeAlias

from starlette.types import Receive, Scope, Send

from hub.config import WebSocket
from hub.contracts.events.v1.events_pb2 import Event
from hub.events.bus import EventBus, ResumeTooOld, SlowConsumer, Subscription
from hub.frontends.rest.render import JsonRenderer
from hub.frontends.websocket.messages import (
    PONG_TEXT,
    ClientError,
    ClientMessages,
    ErrorCode,
    Ping,
    Subscribe,
    Unsubscribe,
    error_text,
    event_text,
    json_string,
    subscribed_text,
    unsubscribed_text,
)

WEBSOCKET_PATH = "/ws"
GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
SLOW_CONSUMER = 4000
_RENDERED_EVENTS = 256
"""Events whose JSON is kept: an event goes to every matching subscription at about the
same time, so it is written once, not once per subscriber."""

_logger = logging.getLogger(__name__)

MessageType: TypeAlias = Literal["event", "subscribed", "unsubscribed", "error", "pong"]
"""The types of the messages the hub sends (asyncapi/hub.yaml), as metrics count them."""


@dataclass(frozen=True)
class WebSocketStats:
    """What the endpoint reports for metrics, read at scrape time."""

    connections: int
    """Connections open now."""
    sent: dict[MessageType, int]
    """Messages sent since start, by type."""


class WebSocketEndpoint:
    """The ASGI app of `/ws`; `drain` closes every connection when the hub stops."""

    def __init__(self, bus: EventBus, settings: WebSocket) -> None:
        self.bus = bus
        self.settings = settings
        self.messages = ClientMessages()
        self._render = JsonRenderer().message(Event.DESCRIPTOR)
        self._rendered: dict[int, str] = {}
        self._connections: set[_Connection] = set()
        self.sent: Counter[MessageType] = Counter()
        """Messages sent, by type (the connections count them)."""
        self.draining = False

    def stats(self) -> WebSocketStats:
        """Counts for metrics."""
        return WebSocketStats(connections=len(self._connections), sent=dict(self.sent))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        connection = _Connection(self, send)
        if self.draining:
            await connection.close(GOING_AWAY, "the hub is shutting down")
        self._connections.add(connection)
        try:
            await connection.serve(receive)
        finally:
            self._connections.discard(connection)

    def event_json(self, event: Event) -> str:
        """The proto3 JSON of `event`, written once for all the subscriptions it goes to."""
        text = self._rendered.get(event.id)
        if text is None:
            text = json.dumps(self._render(event), separators=(",", ":"), ensure_ascii=False)
            self._rendered[event.id] = text
            if len(self._rendered) > _RENDERED_EVENTS:
                del self._rendered[next(iter(self._rendered))]
        return text

    async def drain(self, grace: float) -> None:
        """Takes no new subscription and closes every connection with 1001, waiting at most
        `grace` seconds for the close frames to be written (the HTTP server's own shutdown
        ends what is left)."""
        self.draining = True
        closing = [
            connection.close(GOING_AWAY, "the hub is shutting down")
            for connection in self._connections
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await asyncio.gather(*closing)


class _Connection:
    """One client: its subscriptions and the one way to write to it."""

    def __init__(self, endpoint: WebSocketEndpoint, send: Send) -> None:
        self._endpoint = endpoint
        self._send = send
        self._lock = asyncio.Lock()
        self._closed = False
        self._subscriptions: dict[str, tuple[Subscription, asyncio.Task[None]]] = {}

    async def serve(self, receive: Receive) -> None:
        """Answers the client's messages until it disconnects or the connection is closed."""
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                try:
                    if text is None:
                        await self.close(
                            UNSUPPORTED_DATA, "binary frames are not accepted: send JSON text"
                        )
                    else:
                        await self._answer(text)
                except OSError:
                    continue  # closed or gone: the disconnect is next
        finally:
            await self._end_subscriptions()

    async def close(self, code: int, reason: str) -> None:
        """Closes the connection with `code` (once; later calls do nothing)."""
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(OSError):
                await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def _write(self, text: str, kind: MessageType) -> None:
        """Sends one message of type `kind`; `OSError` once the connection is closed or
        gone."""
        async with self._lock:
            if self._closed:
                raise ConnectionError("the connection is closed")
            await self._send({"type": "websocket.send", "text": text})
            self._endpoint.sent[kind] += 1

    async def _answer(self, text: str) -> None:
        try:
            match self._endpoint.messages.read(text):
                case Ping():
                    await self._write(PONG_TEXT, "pong")
                case Unsubscribe(subscription):
                    await self._unsubscribe(subscription)
                case Subscribe() as subscribe:
                    await self._subscribe(subscribe)
        except ClientError as error:
            await self._write(error.text(), "error")

    async def _subscribe(self, request: Subscribe) -> None:
        name = request.id
        if name in self._subscriptions:
            raise ClientError(
                ErrorCode.DUPLICATE_SUBSCRIPTION, f"subscription {name!r} is active", name
            )
        limit = self._endpoint.settings.max_subscriptions
        if len(self._subscriptions) >= limit:
            raise ClientError(
                ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                f"a connection holds at most {limit} subscriptions",
                name,
            )
        if self._endpoint.draining:
            raise ClientError(ErrorCode.UNAVAILABLE, "the hub is shutting down", name)
        try:
            subscription = self._endpoint.bus.subscribe(request.event_filter, request.since)
        except ResumeTooOld as too_old:
            raise ClientError(ErrorCode.RESUME_TOO_OLD, str(too_old), name) from None
        try:
            await self._write(subscribed_text(name, request.since), "subscribed")
        except BaseException:
            subscription.close()
            raise
        pump = asyncio.create_task(self._pump(name, subscription), name=f"ws subscription {name}")
        self._subscriptions[name] = (subscription, pump)

    async def _unsubscribe(self, name: str) -> None:
        entry = self._subscriptions.pop(name, None)
        if entry is None:
            raise ClientError(
                ErrorCode.UNKNOWN_SUBSCRIPTION, f"no active subscription {name!r}", name
            )
        await _stop(*entry)
        await self._write(unsubscribed_text(name), "unsubscribed")

    async def _pump(self, name: str, subscription: Subscription) -> None:
        """Writes the subscription's events until it ends, the client goes, or the bus
        drops it as too slow (then closes the connection with 4000)."""
        name_json = json_string(name)
        event_json = self._endpoint.event_json
        try:
            async for event in subscription:
                await self._write(event_text(name_json, event_json(event)), "event")
        except SlowConsumer as slow:
            with contextlib.suppress(OSError):
                await self._write(error_text(ErrorCode.SLOW_CONSUMER, str(slow), name), "error")
            await self.close(SLOW_CONSUMER, f"slow consumer: resume after {slow.last_delivered}")
        except OSError:
            return

    async def _end_subscriptions(self) -> None:
        entries = list(self._subscriptions.values())
        self._subscriptions.clear()
        for subscription, pump in entries:
            await _stop(subscription, pump)


async def _stop(subscription: Subscription, pump: asyncio.Task[None]) -> None:
    """Ends a subscription and its task; logs a failure of the task (a bug)."""
    subscription.close()
    pump.cancel()
    await asyncio.wait([pump])
    if not pump.cancelled() and (failure := pump.exception()) is not None:
        _logger.error("a WebSocket subscription failed", exc_info=failure)
