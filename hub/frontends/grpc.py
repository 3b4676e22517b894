"""The public gRPC front end: forwards every backend method, streams events, serves health and
reflection.

Forwarding is pure pass-through: each method of `hub.user.v1.UserService` and
`hub.mindmap.v1.MindmapService` (taken from the service descriptors, so a new RPC is forwarded
without touching this file) gets a handler that hands the serialized request to
`BackendClient.unary_bytes` and relays the answer without parsing it. What crosses the hop:
- the caller's deadline (as the outbound call's timeout);
- the caller's metadata, less transport and `grpc-*` keys and less every `x-hub-*` key, which
  only the gateway itself may set (they carry facts it vouches for, like the principal);
- the backend's initial and trailing metadata, and on failure its status code, message and
  trailing metadata, `grpc-status-details-bin` included, so rich error details arrive intact.

Given the hub's event bus, it also serves `hub.events.v1.EventService` itself (grpc_events.py):
events are not a backend's, so there is nothing to forward.

Health (`grpc.health.v1`): one status per forwarded service (by its full gRPC name), SERVING
while `BackendClient` has a replica of the backend that is reachable and reports SERVING in
its own health service (the client health-checks every replica; a loss that mends within
`RECONNECT_GRACE_SECONDS`, such as a connection replaced at its maximum age, is not
reported, as Envoy's health checks want several failures in a row), and NOT_SERVING too while
the service's circuit breaker is open (half-open reports SERVING again, so that traffic
comes back to probe it); EventService SERVING while the front end runs; the overall status
`""`, SERVING only while every backend is. `drain()` turns them all NOT_SERVING for good and
ends the open event streams, before the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any

import grpc
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hub.client import SERVICE_DESCRIPTORS, BackendClient, method_path
from hub.config import ServiceName
from hub.contracts.events.v1 import events_pb2_grpc
from hub.events.bus import EventBus
from hub.frontends.grpc_events import SERVICE_NAME as EVENTS_SERVICE
from hub.frontends.grpc_events import EventStreams
from hub.frontends.subscriptions import Authorizer
from hub.health import HealthServicer
from hub.policies.breaker import BreakerState, CircuitBreaker
from hub.principal import GATEWAY_PREFIX, PEER_KEY, peer_host
from hub.rpcstatus import STATUS_DETAILS_KEY

_Metadata = tuple[tuple[str, str | bytes], ...]

# Keys that describe one HTTP/2 hop, not the call; the outbound hop sets its own.
_HOP_KEYS = frozenset(
    {
        "connection",
        "content-type",
        "host",
        "keep-alive",
        "proxy-connection",
        "te",
        "transfer-encoding",
        "upgrade",
        "user-agent",
    }
)
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
RECONNECT_GRACE_SECONDS = 0.5
"""How long a backend may be unreachable before its service is reported NOT_SERVING: the
gateway's channel is not READY for a few milliseconds while it replaces a connection."""


def _is_call_metadata(key: str) -> bool:
    return not key.startswith((":", "grpc-")) and key not in _HOP_KEYS


def request_metadata(metadata: Iterable[tuple[str, str | bytes]]) -> _Metadata:
    """What of a caller's metadata goes on to the backend."""
    return tuple(
        (key, value)
        for key, value in metadata
        if _is_call_metadata(key) and not key.startswith(GATEWAY_PREFIX)
    )


def response_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> _Metadata:
    """What of a backend's response metadata goes back to the caller."""
    return tuple(
        (key, value)
        for key, value in metadata or ()
        if key == STATUS_DETAILS_KEY or _is_call_metadata(key)
    )


_Handler = Callable[[bytes, aio.ServicerContext[bytes, bytes]], Awaitable[bytes]]


def _forwarder(client: BackendClient, method: str) -> _Handler:
    """The handler of one method: one outbound call per inbound call, bytes in, bytes out.
    (A plain coroutine function: grpc.aio tells async handlers apart by that.)"""

    outbound = client.unary_bytes(method)

    async def forward(request: bytes, context: aio.ServicerContext[bytes, bytes]) -> bytes:
        call = outbound(
            request,
            timeout=context.time_remaining(),
            metadata=(
                *request_metadata(context.invocation_metadata() or ()),
                (PEER_KEY, peer_host(context.peer())),
            ),
        )
        try:
            response = await call
        except aio.AioRpcError as error:
            initial = response_metadata(error.initial_metadata())
            if initial:
                await context.send_initial_metadata(initial)
            await context.abort(
                error.code(), error.details() or "", response_metadata(error.trailing_metadata())
            )
        await context.send_initial_metadata(response_metadata(await call.initial_metadata()))
        context.set_trailing_metadata(response_metadata(await call.trailing_metadata()))
        return response

    return forward


class GrpcFrontend:
    """Forwarding handlers, the event stream, health and reflection for one grpc.aio server.

    Use: `add_to_server(server)` before the server starts, `start()` once it runs (begins
    mirroring backend health), `drain()` before stopping it. Without a `bus`, EventService
    is not served (a front end that only forwards).
    """

    def __init__(
        self,
        client: BackendClient,
        *,
        bus: EventBus | None = None,
        authorizer: Authorizer | None = None,
    ) -> None:
        """`authorizer`: with authentication on, the read that lets an event stream start."""
        self._client = client
        self._events = None if bus is None else EventStreams(bus, authorizer=authorizer)
        self._health = HealthServicer()
        self._serving = dict.fromkeys(
            (descriptor.full_name for descriptor in SERVICE_DESCRIPTORS.values()), False
        )
        self._mirrors: list[asyncio.Task[None]] = []
        self._tripped: dict[str, bool] = dict.fromkeys(self._serving, False)
        """Services whose circuit breaker is open."""
        self._reports: set[asyncio.Task[None]] = set()
        self._timers: list[asyncio.TimerHandle] = []
        self._losing: dict[str, asyncio.TimerHandle] = {}
        """Services whose backend is unreachable, not yet for RECONNECT_GRACE_SECONDS."""
        self._drained = False

    def add_to_server(self, server: aio.Server) -> None:
        """Registers the forwarded services, health and reflection on `server`."""
        for descriptor in SERVICE_DESCRIPTORS.values():
            handlers: dict[str, grpc.RpcMethodHandler[bytes, bytes]] = {}
            for method in descriptor.methods:
                if method.client_streaming or method.server_streaming:
                    raise NotImplementedError(f"streaming method {method.full_name} not forwarded")
                forward = _forwarder(self._client, method_path(descriptor, method.name))
                handlers[method.name] = grpc.unary_unary_rpc_method_handler(forward)
            server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(descriptor.full_name, handlers),)
            )
        if self._events is not None:
            events_pb2_grpc.add_EventServiceServicer_to_server(self._events, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (*self._serving, *self._local_services(), health.SERVICE_NAME, reflection.SERVICE_NAME),
            server,
        )

    def _local_services(self) -> tuple[str, ...]:
        """The services served here rather than forwarded."""
        return () if self._events is None else (EVENTS_SERVICE,)

    async def start(self) -> None:
        """Reports every service NOT_SERVING until its backend says otherwise, and starts
        following each backend's health; the services served here are SERVING at once."""
        for service in ("", *self._serving):
            await self._health.set(service, NOT_SERVING)
        for service in self._local_services():
            await self._health.set(service, SERVING)
        self._mirrors = [
            asyncio.create_task(self._mirror(name), name=f"health mirror of {name}")
            for name in SERVICE_DESCRIPTORS
        ]

    async def drain(self) -> None:
        """Reports NOT_SERVING from now on, for every service, ends the open event streams
        (UNAVAILABLE: clients resume elsewhere or later) and stops following backends."""
        self._drained = True
        await self._health.enter_graceful_shutdown()
        if self._events is not None:
            self._events.drain()
        for timer in [*self._timers, *self._losing.values()]:
            timer.cancel()
        tasks = [*self._mirrors, *self._reports]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._mirrors = []

    async def _mirror(self, name: ServiceName) -> None:
        """Follows whether the backend has a replica that is reachable and SERVING; a service
        reported SERVING turns NOT_SERVING once its backend has been unreachable for
        RECONNECT_GRACE_SECONDS."""
        service = SERVICE_DESCRIPTORS[name].full_name
        loop = asyncio.get_running_loop()
        async for reachable in self._client.reachability(name):
            losing = self._losing.pop(service, None)
            if losing is not None:
                losing.cancel()
            if reachable or not self._serving[service]:
                await self._set(service, reachable)
            else:
                self._losing[service] = loop.call_later(
                    RECONNECT_GRACE_SECONDS, self._lost, service
                )

    def _lost(self, service: str) -> None:
        """Its backend stayed unreachable for the grace: reports the service NOT_SERVING."""
        del self._losing[service]
        self._report_soon(service, self._set(service, False))

    def _report_soon(self, service: str, report: Coroutine[Any, Any, None]) -> None:
        """Runs `report` (of `service`'s health) in a task that `drain` waits for."""
        task = asyncio.get_running_loop().create_task(report, name=f"health report of {service}")
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    def watch_breakers(self, breakers: Mapping[str, CircuitBreaker]) -> None:
        """Reports each service NOT_SERVING while its breaker (by service name) is open."""
        for service, breaker in breakers.items():
            breaker.on_change(functools.partial(self._breaker_changed, service, breaker))

    def _breaker_changed(self, service: str, breaker: CircuitBreaker, state: BreakerState) -> None:
        if self._drained:
            return
        self._tripped[service] = state is BreakerState.OPEN
        if state is BreakerState.OPEN:
            # An open breaker turns half-open when read after its open time: read it then,
            # so that health says SERVING again without waiting for traffic.
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(breaker.open_for, lambda: breaker.state))
        self._report_soon(service, self._report(service))

    async def _set(self, service: str, serving: bool) -> None:
        self._serving[service] = serving
        await self._report(service)

    async def _report(self, service: str) -> None:
        def up(name: str) -> bool:
            return self._serving[name] and not self._tripped.get(name, False)

        await self._health.set(service, SERVING if up(service) else NOT_SERVING)
        await self._health.set("", SERVING if all(map(up, self._serving)) else NOT_SERVING)
