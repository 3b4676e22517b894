"""The `/ws` endpoint: subscriptions to the event bus, over one WebSocket per client.

Each connection is a `wire.WireProtocol` that the HTTP server hands the upgraded socket to
(hub/frontends/http.py): no task, no queue and no lock per connection or subscription.
A client's message is answered as it is read (`messages.py`); each subscription is a push
subscription of the bus (`EventBus.push`), whose `publish` writes the event to every
matching connection in one synchronous pass. The frame of an event is built once per
subscription name (every client naming its subscription "s1" shares one frame) and written
as is. Writes are whole messages in the order they are made, so `subscribed` precedes a
subscription's events (the subscription delivers from the first `resume()` on, after it)
and `unsubscribed` follows its last one.

Backpressure: while a connection's transport holds more than its high-water mark unsent,
its subscriptions stop taking events and the bus queues them, at most
`events.subscriber_queue` each; one more and the bus drops the subscription without
delaying anyone else. When the client reads again and the buffer drains, it gets the queued
events, an `error` SLOW_CONSUMER and the close code 4000; it may resume with `since` = the
last event id it received. A client that never reads again holds no more than that bounded
queue and its socket buffers until the keepalive (ping frames, `http.websocket.ping_*`,
closing with 1011 without a pong) gives up on it.

Close codes the hub sends (also in asyncapi/hub.yaml):
- 1001 going away: the hub is shutting down; reconnect (to another instance) and resume.
- 1003 unsupported data: a binary frame (the protocol is JSON text frames).
- 1007 invalid data: a text frame that is not UTF-8.
- 1009 message too big: a message above `http.websocket.max_message_bytes`.
- 1011 keepalive timeout: no pong to a ping frame within `ping_timeout_seconds`.
- 4000 slow consumer: resume with `since` = the last event id received.

- 4401 unauthenticated: authentication is on and the connection's credentials are missing
  or not good (after an `error` UNAUTHENTICATED); connect again with good ones.

Authentication and authorization (docs/policies.md): with authentication on, a subscription
starts only once the caller may read what it follows, decided by one backend read made with
the credentials of the handshake (`Authorization` header, or an `access_token` query
parameter for browsers, which cannot set headers) through the gateway's policies
(`hub.frontends.subscriptions`): they authenticate it, rate-limit it, and the backend
authorizes it. A refusal is an `error` (UNAUTHENTICATED, then close 4401; FORBIDDEN;
NOT_FOUND; RATE_LIMITED; UNAVAILABLE); the connection survives the others. Without
authentication nothing is read: anyone may follow anything.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections import Counter
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias
from urllib.parse import parse_qs, urlsplit

import grpc
from grpc import aio
from websockets.http11 import Request

from hub.config import WebSocket
from hub.contracts.events.v1.events_pb2 import Event
from hub.events.bus import EventBus, PushSubscription, ResumeTooOld, SlowConsumer
from hub.frontends.rest.render import JsonRenderer
from hub.frontends.subscriptions import Authorizer
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
from hub.frontends.websocket.wire import WireProtocol, text_frame
from hub.principal import AUTHORIZATION_KEY, PEER_KEY

WEBSOCKET_PATH = "/ws"
GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
SLOW_CONSUMER = 4000
UNAUTHENTICATED = 4401
_RENDERED_EVENTS = 256
"""Events whose JSON is kept: an event goes to every matching subscription at about the
same time, so it is written once, not once per subscriber."""
_FRAMES_PER_EVENT = 64
"""Frames kept for the event being delivered, one per subscription name."""

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
    """What the connections of `/ws` share: the bus, settings, rendered events, counts.
    `connect` makes the protocol of one upgraded connection; `drain` closes every
    connection when the hub stops."""

    def __init__(self, bus: EventBus, settings: WebSocket) -> None:
        self.bus = bus
        self.settings = settings
        self.messages = ClientMessages()
        self._render = JsonRenderer().message(Event.DESCRIPTOR)
        self._rendered: dict[int, str] = {}
        self._framed = 0
        self._frames: dict[str, bytes] = {}
        self.connections: set[EventConnection] = set()
        """Connections whose handshake is complete and that are not closing."""
        self.sent: Counter[MessageType] = Counter()
        """Messages sent, by type (the connections count them)."""
        self.draining = False
        self.authorizer: Authorizer | None = None
        """With authentication on: the read that lets a subscription start (set by the
        composition root, `hub.frontends.subscriptions.authorize` on its client)."""
        self.observer: Observer | None = None
        """What observes each connection, as the HTTP middleware would (set by the
        composition root when observability is on)."""

    def stats(self) -> WebSocketStats:
        """Counts for metrics."""
        return WebSocketStats(connections=len(self.connections), sent=dict(self.sent))

    def connect(self, server_connections: set[asyncio.Protocol]) -> EventConnection:
        """The protocol of a connection upgraded at `/ws`; `server_connections` is the HTTP
        server's set of open connections (its shutdown closes what is left in it)."""
        return EventConnection(self, server_connections)

    def event_json(self, event: Event) -> str:
        """The proto3 JSON of `event`, written once for all the subscriptions it goes to."""
        text = self._rendered.get(event.id)
        if text is None:
            text = json.dumps(self._render(event), separators=(",", ":"), ensure_ascii=False)
            self._rendered[event.id] = text
            if len(self._rendered) > _RENDERED_EVENTS:
                del self._rendered[next(iter(self._rendered))]
        return text

    def event_frame(self, event: Event, name_json: str) -> bytes:
        """The frame of the `event` message of `event` to the subscription `name_json`,
        built once per name for the event being delivered."""
        if event.id != self._framed:
            self._framed = event.id
            self._frames = {}
        frame = self._frames.get(name_json)
        if frame is None:
            frame = text_frame(event_text(name_json, self.event_json(event)))
            if len(self._frames) < _FRAMES_PER_EVENT:
                self._frames[name_json] = frame
        return frame

    def drain(self) -> None:
        """Takes no new subscription and closes every connection with 1001. The close
        frames are written at once; the HTTP server's own shutdown ends the TCP
        connections."""
        self.draining = True
        for connection in list(self.connections):
            connection.close(GOING_AWAY, "the hub is shutting down")


class Observed(Protocol):
    """A connection being observed (`hub.observability.asgi.ObservedConnection`)."""

    context: contextvars.Context
    """Where the backend calls made for the connection run: its request id and trace."""

    def end(self) -> None:
        """The connection has ended."""


class Observer(Protocol):
    """What observes the connections (`hub.observability.asgi.WebSocketObserver`)."""

    def begin(self, request: Request, endpoint: str) -> Observed:
        """A connection whose handshake (`request`) was accepted, at `endpoint`."""


class EventConnection(WireProtocol):
    """One client of `/ws`: its subscriptions, by the names the client gave them."""

    __slots__ = (
        "_checks",
        "_credentials",
        "_observed",
        "_request",
        "_subscriptions",
        "endpoint",
    )

    def __init__(
        self, endpoint: WebSocketEndpoint, server_connections: set[asyncio.Protocol]
    ) -> None:
        super().__init__(endpoint.settings, server_connections)
        self.endpoint = endpoint
        self._subscriptions: dict[str, _Subscriber] | None = None
        self._credentials: tuple[tuple[str, str], ...] = ()
        """What the authorizing reads carry: the handshake's credentials, the client's
        address."""
        self._checks: dict[str, asyncio.Task[None]] | None = None
        """Subscriptions waiting for their authorizing read, by name."""
        self._request: Request | None = None
        """The handshake, until the connection opens (when it is observed)."""
        self._observed: Observed | None = None

    def handshake(self, request: Request) -> None:
        if self.endpoint.observer is not None:
            self._request = request
        if self.endpoint.authorizer is None:
            return
        authorization = request.headers.get("Authorization")
        if authorization is None:
            token = parse_qs(urlsplit(request.path).query).get("access_token")
            authorization = f"Bearer {token[0]}" if token else None
        credentials = [] if authorization is None else [(AUTHORIZATION_KEY, authorization)]
        peer = self.client_address()
        self._credentials = (*credentials, (PEER_KEY, peer))

    def send(self, text: str, kind: MessageType) -> None:
        """Writes one message of type `kind` (nothing once the connection is closing)."""
        if not self.closing:
            self.write(text_frame(text))
            self.endpoint.sent[kind] += 1

    def opened(self) -> None:
        observer, request, self._request = self.endpoint.observer, self._request, None
        if observer is not None and request is not None:
            self._observed = observer.begin(request, WEBSOCKET_PATH)
        self.endpoint.connections.add(self)
        if self.endpoint.draining:
            self.close(GOING_AWAY, "the hub is shutting down")

    def received(self, text: str) -> None:
        try:
            match self.endpoint.messages.read(text):
                case Ping():
                    self.send(PONG_TEXT, "pong")
                case Unsubscribe(subscription):
                    self._unsubscribe(subscription)
                case Subscribe() as subscribe:
                    self._subscribe(subscribe)
        except ClientError as error:
            self.send(error.text(), "error")

    def received_binary(self) -> None:
        self.close(UNSUPPORTED_DATA, "binary frames are not accepted: send JSON text")

    def writable_again(self) -> None:
        for subscriber in list(self._subscriptions.values()) if self._subscriptions else ():
            subscriber.subscription.resume()

    def ended(self) -> None:
        self.endpoint.connections.discard(self)
        subscribers, self._subscriptions = self._subscriptions, None
        for subscriber in subscribers.values() if subscribers else ():
            subscriber.subscription.close()
        checks, self._checks = self._checks, None
        for check in checks.values() if checks else ():
            check.cancel()
        if self._observed is not None:
            self._observed.end()

    def _subscribe(self, request: Subscribe) -> None:
        name = request.id
        subscriptions = self._subscriptions or {}
        checks = self._checks or {}
        if name in subscriptions or name in checks:
            raise ClientError(
                ErrorCode.DUPLICATE_SUBSCRIPTION, f"subscription {name!r} is active", name
            )
        limit = self.endpoint.settings.max_subscriptions
        if len(subscriptions) + len(checks) >= limit:
            raise ClientError(
                ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                f"a connection holds at most {limit} subscriptions",
                name,
            )
        if self.endpoint.draining:
            raise ClientError(ErrorCode.UNAVAILABLE, "the hub is shutting down", name)
        authorizer = self.endpoint.authorizer
        if authorizer is None:
            self._start(request)
            return
        if self._checks is None:
            self._checks = {}
        self._checks[name] = asyncio.create_task(
            self._authorize(authorizer, request),
            name=f"/ws authorization of {name}",
            context=None if self._observed is None else self._observed.context,
        )

    async def _authorize(self, authorizer: Authorizer, request: Subscribe) -> None:
        """Starts the subscription once its authorizing read succeeds; else the refusal."""
        name = request.id
        try:
            await authorizer(request.event_filter, metadata=self._credentials)
        except aio.AioRpcError as error:
            if self._checks is not None:
                self._checks.pop(name, None)
            code, close = _refusal(error.code())
            self.send(error_text(code, error.details() or code.value, name), "error")
            if close:
                self.close(UNAUTHENTICATED, "unauthenticated: connect with good credentials")
            return
        if self._checks is None:  # the connection ended meanwhile
            return
        del self._checks[name]
        try:
            self._start(request)
        except ClientError as refused:
            self.send(refused.text(), "error")

    def _start(self, request: Subscribe) -> None:
        """Starts an accepted subscription: `subscribed`, then its events."""
        name = request.id
        subscriptions = self._subscriptions
        if subscriptions is None:
            subscriptions = self._subscriptions = {}
        subscriber = _Subscriber(self, name)
        try:
            subscriber.subscription = self.endpoint.bus.push(
                request.event_filter, subscriber, request.since
            )
        except ResumeTooOld as too_old:
            raise ClientError(ErrorCode.RESUME_TOO_OLD, str(too_old), name) from None
        subscriptions[name] = subscriber
        self.send(subscribed_text(name, request.since), "subscribed")
        if self.writable:
            subscriber.subscription.resume()

    def _unsubscribe(self, name: str) -> None:
        subscriber = self._subscriptions.pop(name, None) if self._subscriptions else None
        if subscriber is None:
            raise ClientError(
                ErrorCode.UNKNOWN_SUBSCRIPTION, f"no active subscription {name!r}", name
            )
        subscriber.subscription.close()
        self.send(unsubscribed_text(name), "unsubscribed")

    def slow(self, name: str, error: SlowConsumer) -> None:
        """The bus dropped the subscription `name` after delivering what it held."""
        self.send(error_text(ErrorCode.SLOW_CONSUMER, str(error), name), "error")
        self.close(SLOW_CONSUMER, f"slow consumer: resume after {error.last_delivered}")


def _refusal(code: grpc.StatusCode) -> tuple[ErrorCode, bool]:
    """The `error` code of a failed authorizing read, and whether the connection closes."""
    match code:
        case grpc.StatusCode.UNAUTHENTICATED:
            return ErrorCode.UNAUTHENTICATED, True
        case grpc.StatusCode.PERMISSION_DENIED:
            return ErrorCode.FORBIDDEN, False
        case grpc.StatusCode.NOT_FOUND:
            return ErrorCode.NOT_FOUND, False
        case grpc.StatusCode.RESOURCE_EXHAUSTED:
            return ErrorCode.RATE_LIMITED, False
        case _:
            return ErrorCode.UNAVAILABLE, False


class _Subscriber:
    """One subscription of a connection: the bus's `Consumer` for it."""

    __slots__ = ("_connection", "_name", "_name_json", "subscription")

    subscription: PushSubscription

    def __init__(self, connection: EventConnection, name: str) -> None:
        self._connection = connection
        self._name = name
        self._name_json = json_string(name)

    def deliver(self, event: Event) -> bool:
        connection = self._connection
        if connection.closing:
            return False
        endpoint = connection.endpoint
        connection.write(endpoint.event_frame(event, self._name_json))
        endpoint.sent["event"] += 1
        return connection.writable

    def dropped(self, error: SlowConsumer) -> None:
        self._connection.slow(self._name, error)
