"""The composition root: builds the running hub from `Settings` and owns start and stop.

It is the one module that knows every part: the store (`storage.engine`: SQLite or
PostgreSQL, built by `hub.storage.setup`), the backend servers (real grpc.aio servers, each
with its own health service, listening on a unix socket or TCP as configured), the
`BackendClient` pointing at them, the public gRPC front end, and the HTTP
server (uvicorn, in the same event loop) with the REST front end, which exposes the routes
that `api_gateway.routes` lets out, the GraphQL front end (`graphql.path`) and the WebSocket
endpoint `/ws`. They start in that order.

Events: every committed write nudges the relay, which moves the store's outbox events to the
in-memory event bus (`hub.bus`) that the front ends' subscriptions read; the relay starts
right after the store opens, priming the bus before anything serves.

Observability (`observability.enabled`, hub/observability/): one interceptor on every grpc
server (front end and backends, first in line), a wrapper of `BackendClient`'s channels, one
middleware
around the HTTP dispatch, `/metrics` beside REST, and the business-metrics consumer of the
bus, started with the relay.

Stopping drains in order: the gRPC front end reports NOT_SERVING; WebSocket clients are
closed with 1001 (going away); the relay stops and the bus closes (ending every event
subscription); both front ends stop taking requests and let running ones finish within the
grace period; then the backends stop within what is left of it, the business-metrics
consumer stops and the tracer provider flushes its spans, then the store closes.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import stat
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, assert_never

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace.export import SpanExporter

from hub.backends.decoding import MalformedRequests
from hub.backends.mindmaps import MindmapService
from hub.backends.users import UserService
from hub.client import (
    KEEPALIVE_TIME_MS,
    SERVICE_DESCRIPTORS,
    BackendClient,
)
from hub.config import (
    SERVICE_NAMES,
    ApiGateway,
    ServiceName,
    Settings,
)
from hub.contracts.mindmap.v1 import mindmap_pb2_grpc
from hub.contracts.user.v1 import user_pb2_grpc
from hub.events.bus import EventBus
from hub.events.memory import MemoryEventBus
from hub.events.relay import Relay
from hub.frontends.graphql.app import GraphQLApp
from hub.frontends.graphql.schema import build_schema
from hub.frontends.grpc import GrpcFrontend
from hub.frontends.http import HttpServer
from hub.frontends.rest.app import create_rest_app
from hub.frontends.rest.problems import PROBLEM_JSON
from hub.frontends.rest.responses import malformed_request
from hub.frontends.rest.routes import Exposure, HttpRoute, expose, http_routes
from hub.frontends.subscriptions import Authorizer, authorize
from hub.frontends.websocket.endpoint import WEBSOCKET_PATH, WebSocketEndpoint
from hub.health import HealthServicer
from hub.observability.logging import AccessLog
from hub.observability.metrics import GrpcServer
from hub.observability.stack import Observability
from hub.policies.breaker import CircuitBreaker
from hub.policies.caching import stop_following
from hub.policies.setup import build_policies, raise_if_any
from hub.storage.setup import build_store
from hub.storage.store import Store

_UNIX_PREFIX = "unix:"
_MAX_UNIX_PATH_BYTES = 107
_HTTP_BACKLOG = 2048
# What a client on this machine dials to reach a server bound to a wildcard address.
_LOOPBACK_FOR = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}  # noqa: S104 (not a bind)


class ListenError(Exception):
    """A server cannot listen on its configured address."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot listen on {address}: {reason}")
        self.address = address
        self.reason = reason


def server_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    """Options of every grpc server the hub runs."""
    return [
        # A second server on a used port must fail, not silently share the traffic.
        ("grpc.so_reuseport", 0),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        # Accept the keepalive pings that BackendClient sends on long-lived calls.
        ("grpc.http2.min_ping_interval_without_data_ms", KEEPALIVE_TIME_MS // 2),
    ]


def listen(server: aio.Server, address: str) -> str:
    """Binds `server` to `address` (not yet serving); returns the bound address, with the
    actual port when the configured one was 0. Raises `ListenError` with the reason."""
    if address.startswith(_UNIX_PREFIX):
        _claim_unix_socket(address)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError:
        raise ListenError(address, _bind_failure(address)) from None
    if address.startswith(_UNIX_PREFIX):
        return address
    host = address.rsplit(":", 1)[0]
    return f"{host}:{port}"


def dial_target(bound: str) -> str:
    """The target a client on this machine uses to reach a server bound to `bound`."""
    if bound.startswith(_UNIX_PREFIX):
        return bound
    host, port = bound.rsplit(":", 1)
    return f"{_LOOPBACK_FOR.get(host, host)}:{port}"


def _claim_unix_socket(address: str) -> None:
    """Makes the socket's folder, and removes a socket file left by a process that died, but
    only when nothing listens on it."""
    path = Path(address.removeprefix(_UNIX_PREFIX))
    if len(str(path).encode()) > _MAX_UNIX_PATH_BYTES:
        raise ListenError(address, f"the path is longer than {_MAX_UNIX_PATH_BYTES} bytes")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ListenError(address, "a file that is not a socket is in the way")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink()  # stale: its server is gone
            return
    raise ListenError(address, "address already in use")


def _bind_failure(address: str) -> str:
    """Why grpc could not bind `address` (it only says that it could not): binds a plain
    socket to the same address to learn the operating system's reason."""
    fallback = "the address cannot be bound (set GRPC_VERBOSITY=debug for grpc's reason)"
    if address.startswith(_UNIX_PREFIX):
        return fallback
    try:
        _bind(address).close()
    except ListenError as error:
        return error.reason
    return fallback


def listen_socket(address: str) -> tuple[socket.socket, str]:
    """A listening socket on `address` for a server that takes one (the HTTP server), and
    the bound address with the actual port. Raises `ListenError` with the reason."""
    if address.startswith(_UNIX_PREFIX):
        _claim_unix_socket(address)
    listening = _bind(address)
    listening.listen(_HTTP_BACKLOG)
    if address.startswith(_UNIX_PREFIX):
        return listening, address
    host = address.rsplit(":", 1)[0]
    return listening, f"{host}:{listening.getsockname()[1]}"


def _bind(address: str) -> socket.socket:
    """A socket bound to `address` (`host:port` or `unix:<path>`); `ListenError` with the
    operating system's reason if it cannot be."""
    if address.startswith(_UNIX_PREFIX):
        family, kind, proto = socket.AF_UNIX, socket.SOCK_STREAM, 0
        sockaddr: Any = address.removeprefix(_UNIX_PREFIX)
    else:
        host, port = address.rsplit(":", 1)
        try:
            family, kind, proto, _, sockaddr = socket.getaddrinfo(
                host.strip("[]"), int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )[0]
        except socket.gaierror as error:
            raise ListenError(address, f"cannot resolve {host!r}: {error.strerror}") from None
    bound = socket.socket(family, kind, proto)
    try:
        if family != socket.AF_UNIX:
            # Like every server: a port whose old connections linger in TIME_WAIT is free.
            bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        bound.bind(sockaddr)
    except OSError as error:
        bound.close()
        reason = (error.strerror or "the address cannot be bound").lower()
        raise ListenError(address, reason) from None
    return bound


def _state_number(breaker: CircuitBreaker) -> int:
    """A breaker's state as its metric shows it."""
    return breaker.state.value


def rest_routes(gateway: ApiGateway) -> list[HttpRoute]:
    """The REST routes of the backend services that `gateway.routes` exposes. Raises
    `ConfigError` naming each configured method that exposes no route (a misspelt path)."""
    routes = http_routes(SERVICE_DESCRIPTORS.values())
    exposures: list[Exposure] = []
    problems: list[str] = []
    for index, entry in enumerate(gateway.routes):
        service = SERVICE_DESCRIPTORS[entry.service].full_name
        for position, method in enumerate(entry.methods):
            if not expose(routes, [Exposure(entry.path, service, frozenset({method}))]):
                problems.append(
                    f"api_gateway.routes[{index}].methods[{position}]: {entry.service} has "
                    f"no {method} route under {entry.path}"
                )
        exposures.append(Exposure(entry.path, service, frozenset(entry.methods)))
    raise_if_any(problems)
    return expose(routes, exposures)


@dataclass
class _BackendServer:
    """One backend service on its own grpc server, with the health service it reports to."""

    name: ServiceName
    server: aio.Server
    health: Any  # grpc_health's aio HealthServicer (untyped)
    bound: str = ""

    @property
    def target(self) -> str:
        """Where a client dials it."""
        return dial_target(self.bound)


class Hub:
    """The whole hub in one process (`hub serve`): `await start()`, later `await stop()`."""

    def __init__(
        self,
        settings: Settings,
        *,
        client_interceptors: Sequence[aio.ClientInterceptor] = (),
        span_exporter: SpanExporter | None = None,
        access_log: AccessLog | None = None,
    ) -> None:
        """Raises `ConfigError` when `api_gateway.routes` names routes that do not exist, or
        the PostgreSQL DSN cannot be parsed.
        `client_interceptors` wrap every front end's backend calls (tests count them);
        `span_exporter`: where spans go instead of the configured exporter (tests);
        `access_log`: where access lines go (`configure_logging`'s; default: records of
        the logger `hub.access`)."""
        self.settings = settings
        self._client_interceptors = tuple(client_interceptors)
        self.rest_routes = rest_routes(settings.api_gateway)
        """The REST routes the HTTP server serves."""
        gateway = settings.api_gateway
        self.policies = build_policies(gateway, settings.data_dir)
        """The gateway policies in force (`hub.policies.setup`)."""
        self._cache_follower: asyncio.Task[None] | None = None
        self.store: Store = build_store(settings, on_commit=self._committed)
        events = settings.events
        self.bus: EventBus = MemoryEventBus(
            retention_count=events.retention_count,
            retention_seconds=events.retention_seconds,
            subscriber_queue=events.subscriber_queue,
        )
        """Committed events for the front ends to subscribe to (`hub.events.bus.EventBus`)."""
        self.relay = Relay(
            self.store,
            self.bus,
            retention_count=events.retention_count,
            poll_interval=events.poll_interval_ms / 1000,
        )
        self.grpc_address = ""
        """The gRPC front end's bound address (actual port), once started."""
        self.http_address = ""
        """The HTTP server's bound address (actual port), once started."""
        self._backends: list[_BackendServer] = []
        self._client: BackendClient | None = None
        self._frontend: GrpcFrontend | None = None
        self._front_server: aio.Server | None = None
        self._http_server: HttpServer | None = None
        self.websocket = WebSocketEndpoint(self.bus, settings.http.websocket)
        """The WebSocket endpoint `/ws` of the HTTP server (event subscriptions)."""
        self.observability: Observability | None = None
        """Metrics, tracing and interceptors; None when `observability.enabled` is false."""
        if settings.observability.enabled:
            self.observability = Observability(
                settings.observability,
                self.bus,
                self.relay.stats,
                {WEBSOCKET_PATH: self.websocket.stats},
                span_exporter=span_exporter,
                access_log=access_log,
            )
            caching = self.policies.caching
            self.observability.watch_policies(
                {
                    service: functools.partial(_state_number, breaker)
                    for service, breaker in self.policies.breakers.items()
                },
                None if caching is None else caching.cache.stats,
            )
        self._store_open = False

    def _committed(self, event_id: int) -> None:
        """After each committed write: the relay moves its event to the bus at once."""
        self.relay.committed(event_id)

    @property
    def backend_targets(self) -> dict[ServiceName, str]:
        """Where each backend service can be dialled, once started."""
        return {backend.name: backend.target for backend in self._backends}

    async def start(self) -> None:
        """Opens the store and starts the backends, then the front end. On failure, stops
        whatever had started and re-raises (`ListenError` for an address that is taken)."""
        try:
            await self._start()
        except BaseException:
            await self.stop(grace=0)
            raise

    async def _start(self) -> None:
        max_bytes = self.settings.grpc.max_message_bytes
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        self._store_open = True
        await self.relay.start()
        if self.policies.caching is not None:
            # Writes made elsewhere reach this cache through their events.
            self._cache_follower = asyncio.create_task(
                self.policies.caching.follow(self.bus), name="cache invalidation"
            )
        if self.observability is not None:
            self.observability.start()
        for name in SERVICE_NAMES:
            backend = self._build_backend(name, max_bytes)
            self._backends.append(backend)
            await self._serve_backend(backend, self.settings.service_listen(name))

        # The policies first: what they answer themselves (a cache hit, a refusal) never
        # reaches the interceptors behind them, nor the backend. Without any policy on, no
        # interceptor at all: grpc.aio runs every intercepted call through a task of its own.
        observability = self.observability
        policies = [] if self.policies.interceptor.idle else [self.policies.interceptor]
        self._client = BackendClient(
            self.backend_targets,
            interceptors=[*policies, *self._client_interceptors],
            channel_wrapper=None if observability is None else observability.wrap_channel,
            max_message_bytes=max_bytes,
            retries=self.settings.api_gateway.retries,
        )
        authorizer: Authorizer | None = None
        if self.policies.authenticator is not None:
            # Subscriptions start once the caller may read what they follow.
            authorizer = functools.partial(
                authorize, self._client, seconds=self.settings.http.default_timeout_seconds
            )
        self.websocket.authorizer = authorizer
        self._frontend = GrpcFrontend(self._client, bus=self.bus, authorizer=authorizer)
        self._frontend.watch_breakers(self.policies.breakers)
        self._front_server = aio.server(
            interceptors=self._server_interceptors("frontend"), options=server_options(max_bytes)
        )
        self._frontend.add_to_server(self._front_server)
        self.grpc_address = listen(self._front_server, self.settings.grpc.listen)
        await self._front_server.start()
        await self._frontend.start()

        rest = create_rest_app(
            self._client,
            self.rest_routes,
            settings=self.settings.http,
            cache_control=self.policies.cache_control,
        )
        graphql = GraphQLApp(
            build_schema(
                self.settings.graphql, introspection=self.settings.graphql_introspection()
            ),
            client=self._client,
            bus=self.bus,
            settings=self.settings.graphql,
            http=self.settings.http,
            authenticator=self.policies.authenticator,
        )
        malformed = malformed_request()
        listening, self.http_address = listen_socket(self.settings.http.listen)
        try:
            self._http_server = HttpServer(
                rest,
                listening,
                bad_request=(PROBLEM_JSON.encode(), malformed.body),
                websocket=self.websocket,
                graphql=(self.settings.graphql.path, graphql),
                **self._http_observability(),
            )
            await self._http_server.start()
        except BaseException:
            listening.close()  # the server never took it over
            raise

    async def _serve_backend(self, backend: _BackendServer, address: str) -> None:
        backend.bound = listen(backend.server, address)
        await backend.server.start()
        await backend.health.set(
            SERVICE_DESCRIPTORS[backend.name].full_name, health_pb2.HealthCheckResponse.SERVING
        )

    async def stop_backend(self, name: ServiceName) -> None:
        """Stops one backend service at once, as when its process dies in a split
        deployment (for fault drills and tests; `restart_backend` brings it back)."""
        backend = self._backend(name)
        await backend.server.stop(0)

    async def restart_backend(self, name: ServiceName) -> None:
        """Starts a stopped backend service again, on the address it had."""
        old = self._backend(name)
        backend = self._build_backend(name, self.settings.grpc.max_message_bytes)
        self._backends[self._backends.index(old)] = backend
        await self._serve_backend(backend, old.bound)

    def _backend(self, name: ServiceName) -> _BackendServer:
        return next(backend for backend in self._backends if backend.name == name)

    def _build_backend(self, name: ServiceName, max_message_bytes: int) -> _BackendServer:
        server = aio.server(
            interceptors=[*self._server_interceptors("backend"), MalformedRequests()],
            options=server_options(max_message_bytes),
        )
        match name:
            case "user-service":
                user_pb2_grpc.add_UserServiceServicer_to_server(UserService(self.store), server)
            case "mindmap-service":
                mindmap_pb2_grpc.add_MindmapServiceServicer_to_server(
                    MindmapService(self.store), server
                )
            case _:
                assert_never(name)
        servicer = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        return _BackendServer(name=name, server=server, health=servicer)

    def _server_interceptors(self, server: GrpcServer) -> list[aio.ServerInterceptor]:
        """The observability interceptor of one grpc server, first: it sees every call."""
        if self.observability is None:
            return []
        return [self.observability.server_interceptor(server)]

    def _http_observability(self) -> dict[str, Any]:
        """The HTTP server's middleware and `/metrics` page, as its keyword arguments."""
        observability = self.observability
        if observability is None:
            return {}
        pages = {}
        if observability.settings.metrics.enabled:
            pages[observability.metrics_path] = observability.metrics_app()
        return {"pages": pages, "middleware": observability.wrap}

    async def stop(self, grace: float | None = None) -> None:
        """Drains within `grace` seconds (default: the configured grace period): gRPC front
        end NOT_SERVING, both front ends' running requests finish, backends stop, store
        closes."""
        budget = self.settings.shutdown.grace_period_seconds if grace is None else grace
        deadline = time.monotonic() + budget
        if self._frontend is not None:
            await self._frontend.drain()
            self._frontend = None
        # Event streams end first, or they would hold the front ends for the whole grace
        # period; events committed from here on reach subscribers that resume after restart.
        # WebSocket clients get the close code 1001 (going away) and resume elsewhere.
        self.websocket.drain()
        await self.relay.stop()
        await stop_following(self._cache_follower)
        self._cache_follower = None
        await self.bus.close()
        fronts: list[Awaitable[None]] = []
        if self._http_server is not None:
            fronts.append(self._http_server.stop(budget))
        if self._front_server is not None:
            fronts.append(self._front_server.stop(budget))
            self._front_server = None
        await asyncio.gather(*fronts)
        if self._http_server is not None:
            self._http_server = None
            self._unlink_http_socket()
        if self._client is not None:
            await self._client.close()
            self._client = None
        for backend in self._backends:
            await backend.health.enter_graceful_shutdown()
        remaining = max(0.0, deadline - time.monotonic())
        await asyncio.gather(*(backend.server.stop(remaining) for backend in self._backends))
        self._backends = []
        if self.observability is not None:
            await self.observability.stop()
        if self._store_open:
            await self.store.close()
            self._store_open = False

    def _unlink_http_socket(self) -> None:
        """Removes the HTTP server's unix socket file, if it had one (grpc removes its own)."""
        if self.http_address.startswith(_UNIX_PREFIX):
            Path(self.http_address.removeprefix(_UNIX_PREFIX)).unlink(missing_ok=True)

    def listening(self) -> dict[str, str]:
        """Each listening address by what listens there, for the start-up log."""
        return {
            "gRPC front end": self.grpc_address,
            "REST front end (OpenAPI at /openapi.json, docs at /docs), WebSocket at /ws": (
                self.http_address
            ),
            **{
                f"{backend.name} ({SERVICE_DESCRIPTORS[backend.name].full_name})": backend.bound
                for backend in self._backends
            },
        }
