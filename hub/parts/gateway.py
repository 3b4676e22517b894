"""`Gateway`: the front ends of a hub process and the policies around its backend calls
(roles `all` and `gateway`). It has no store: it reaches the backends only through
`BackendClient`, whose channels dial the targets the composition root gives it (the
backends of this process, or `services.<name>.targets`).

It builds the gateway policies, the `BackendClient` with them, the public gRPC front end
(forwarding, WatchEvents, health, reflection) and the HTTP server (uvicorn, in the same
event loop) with the REST front end (the routes `api_gateway.routes` lets out), the GraphQL
front end (`graphql.path`), the WebSocket endpoint `/ws`, `/metrics`, `/healthz` and
`/readyz`. They start in that order. The response cache follows the event bus, so that
writes made through other gateways invalidate it too. The gateway counts the business
metrics (`Observability.start()`), once the backends have primed the bus.

Draining: the gRPC front end reports NOT_SERVING and ends its event streams, WebSocket
clients are closed with 1001 (going away) and the cache stops following the bus. Stopping:
both front ends stop taking requests and let running ones finish within the grace period,
then the client's channels close.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from grpc import aio

from hub.client import SERVICE_DESCRIPTORS, BackendClient
from hub.config import SERVICE_NAMES, ApiGateway, ServiceName, Settings
from hub.events.bus import EventBus
from hub.frontends.graphql.app import GraphQLApp
from hub.frontends.graphql.schema import build_schema
from hub.frontends.grpc import GrpcFrontend
from hub.frontends.http import HttpServer
from hub.frontends.probes import Readiness
from hub.frontends.rest.app import create_rest_app
from hub.frontends.rest.problems import PROBLEM_JSON
from hub.frontends.rest.responses import malformed_request
from hub.frontends.rest.routes import Exposure, HttpRoute, expose, http_routes
from hub.frontends.subscriptions import Authorizer, authorize
from hub.frontends.websocket.endpoint import WEBSOCKET_PATH, WebSocketEndpoint
from hub.listening import listen, listen_socket, remove_unix_socket, server_options
from hub.observability.stack import Observability
from hub.parts.ops import operations
from hub.policies.breaker import CircuitBreaker
from hub.policies.caching import stop_following
from hub.policies.setup import build_policies, raise_if_any
from hub.redisconn import RedisClients


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


def _state_number(breaker: CircuitBreaker) -> int:
    """A breaker's state as its metric shows it."""
    return breaker.state.value


class Gateway:
    """Policies, client, gRPC front end and HTTP server. A `Part`."""

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        observability: Observability | None,
        *,
        redis: RedisClients | None,
        targets: Callable[[], Mapping[ServiceName, str]],
        readiness: Callable[[], Readiness],
        client_interceptors: Sequence[aio.ClientInterceptor] = (),
    ) -> None:
        """Raises `ConfigError` when `api_gateway.routes` names routes that do not exist, or
        a policy names an RPC that does not. `redis`: where the rate limits and the cache
        live (None: in this process); `targets`: the gRPC target of each backend,
        asked at start; `readiness`: what `/readyz` answers; `client_interceptors` wrap
        every backend call of the front ends (tests count them)."""
        self._settings = settings
        self._bus = bus
        self._observability = observability
        self._targets = targets
        self._readiness = readiness
        self._client_interceptors = tuple(client_interceptors)
        self.rest_routes = rest_routes(settings.api_gateway)
        """The REST routes the HTTP server serves."""
        self.policies = build_policies(settings.api_gateway, settings.data_dir, redis)
        """The gateway policies in force (`hub.policies.setup`)."""
        self.websocket = WebSocketEndpoint(bus, settings.http.websocket)
        """The WebSocket endpoint `/ws` of the HTTP server (event subscriptions)."""
        if observability is not None:
            self.websocket.observer = observability.websocket_observer()
            caching = self.policies.caching
            observability.watch_policies(
                {
                    service: functools.partial(_state_number, breaker)
                    for service, breaker in self.policies.breakers.items()
                },
                None if caching is None else caching.cache.stats,
                self.policies.store_failures,
            )
        self.grpc_address = ""
        """The gRPC front end's bound address (actual port), once started."""
        self.http_address = ""
        """The HTTP server's bound address (actual port), once started."""
        self._cache_follower: asyncio.Task[None] | None = None
        self.client: BackendClient | None = None
        """The client to the backends, once started."""
        self._frontend: GrpcFrontend | None = None
        self._grpc_server: aio.Server | None = None
        self._http_server: HttpServer | None = None

    def reachability(self) -> dict[str, bool]:
        """Whether each backend service has a replica that is reachable and SERVING."""
        client = self.client
        return {name: client is not None and client.reachable(name) for name in SERVICE_NAMES}

    async def start(self) -> None:
        settings = self._settings
        observability = self._observability
        if observability is not None:
            observability.start()
        if self.policies.caching is not None:
            # Writes made elsewhere reach this cache through their events.
            self._cache_follower = asyncio.create_task(
                self.policies.caching.follow(self._bus), name="cache invalidation"
            )
        # The policies first: what they answer themselves (a cache hit, a refusal) never
        # reaches the interceptors behind them, nor the backend. Without any policy on, no
        # interceptor at all: grpc.aio runs every intercepted call through a task of its own.
        policies = [] if self.policies.interceptor.idle else [self.policies.interceptor]
        max_bytes = settings.grpc.max_message_bytes
        client = self.client = BackendClient(
            self._targets(),
            interceptors=[*policies, *self._client_interceptors],
            channel_wrapper=None if observability is None else observability.wrap_channel,
            max_message_bytes=max_bytes,
            retries=settings.api_gateway.retries,
        )
        authorizer: Authorizer | None = None
        if self.policies.authenticator is not None:
            # Subscriptions start once the caller may read what they follow.
            authorizer = functools.partial(
                authorize, client, seconds=settings.http.default_timeout_seconds
            )
        self.websocket.authorizer = authorizer
        self._frontend = GrpcFrontend(client, bus=self._bus, authorizer=authorizer)
        self._frontend.watch_breakers(self.policies.breakers)
        interceptors = (
            [] if observability is None else [observability.server_interceptor("frontend")]
        )
        self._grpc_server = aio.server(interceptors=interceptors, options=server_options(max_bytes))
        self._frontend.add_to_server(self._grpc_server)
        self.grpc_address = listen(self._grpc_server, settings.grpc.listen)
        await self._grpc_server.start()
        await self._frontend.start()
        await self._start_http(client)

    async def _start_http(self, client: BackendClient) -> None:
        settings = self._settings
        rest = create_rest_app(
            client,
            self.rest_routes,
            settings=settings.http,
            cache_control=self.policies.cache_control,
            anonymous=None if self.policies.authenticator is None else self.policies.anonymous,
        )
        graphql = GraphQLApp(
            build_schema(settings.graphql, introspection=settings.graphql_introspection()),
            client=client,
            bus=self._bus,
            settings=settings.graphql,
            http=settings.http,
            authenticator=self.policies.authenticator,
        )
        malformed = malformed_request()
        listening, self.http_address = listen_socket(settings.http.listen)
        try:
            self._http_server = HttpServer(
                rest,
                listening,
                bad_request=(PROBLEM_JSON.encode(), malformed.body),
                websocket=self.websocket,
                graphql=(settings.graphql.path, graphql),
                **operations(self._readiness, self._observability),
            )
            await self._http_server.start()
        except BaseException:
            listening.close()  # the server never took it over
            raise

    async def drain(self) -> None:
        if self._frontend is not None:
            await self._frontend.drain()
            self._frontend = None
        # Event streams end first, or they would hold the front ends for the whole grace
        # period; WebSocket clients get the close code 1001 (going away) and resume elsewhere.
        self.websocket.drain()
        await stop_following(self._cache_follower)
        self._cache_follower = None

    async def stop(self, deadline: float) -> None:
        budget = max(0.0, deadline - time.monotonic())
        fronts: list[Awaitable[None]] = []
        if self._http_server is not None:
            fronts.append(self._http_server.stop(budget))
        if self._grpc_server is not None:
            fronts.append(self._grpc_server.stop(budget))
            self._grpc_server = None
        await asyncio.gather(*fronts)
        if self._http_server is not None:
            self._http_server = None
            remove_unix_socket(self.http_address)
        if self.client is not None:
            await self.client.close()
            self.client = None

    def listening(self) -> dict[str, str]:
        return {
            "gRPC front end": self.grpc_address,
            f"REST front end (OpenAPI at /openapi.json, docs at /docs), WebSocket at "
            f"{WEBSOCKET_PATH}": self.http_address,
        }
