"""The composition root: builds a running hub process from `Settings` and a role, and owns
start and stop.

It is the one module that knows every part. The role (`hub serve --role`, `config.ROLES`)
says which parts run (hub/parts/):
- `all` (the embedded default): `Backends` (store, relay, both backend servers on unix
  sockets or TCP) and `Gateway` (policies, `BackendClient` dialling those servers, the gRPC
  front end and the HTTP server), in one process;
- `gateway`: `Gateway` alone, dialling `services.<name>.targets`;
- `users`, `mindmaps`: `OpsHttp` (`/metrics`, `/healthz`, `/readyz`) and `Backends` with
  that one service, on TCP.
The implementations come from the settings: the store (`storage.engine`: SQLite or
PostgreSQL, `hub.storage.setup.build_store`); the event bus, which the relay publishes to and
the front ends' subscriptions read, the rate-limit store and the response cache: in memory,
or all three in Redis when `redis.url` is set (`hub.redisconn`, `hub.events.setup.build_bus`,
`hub.policies.setup.build_policies`).

Observability (`observability.enabled`, hub/observability/): one interceptor on every grpc
server (front end and backends, first in line), a wrapper of `BackendClient`'s channels, one
middleware around each HTTP server's dispatch, `/metrics`, and, where the gateway runs, the
business-metrics consumer of the bus.

Readiness (`/readyz`): "starting" until every part has started, "serving", then "draining"
from the first moment of `stop`; a gateway is ready only while each backend service has a
reachable, SERVING replica.

Parts start in order (a part that fails stops what had started). Stopping drains every
part in reverse order (the gRPC front end reports NOT_SERVING, WebSocket clients are closed
with 1001, the relay stops), closes the bus (ending every event subscription), then stops
every part in reverse order within the grace period (front ends finish their running
requests; backends report NOT_SERVING, in a split role keep serving `HANDOVER_SECONDS` while
the gateways take them out of rotation, and finish their calls in what is left; the store
closes),
then the observability stack stops (business consumer, spans flushed), and last the Redis
clients close.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from grpc import aio
from opentelemetry.sdk.trace.export import SpanExporter

from hub.config import (
    ROLES,
    SERVICE_NAMES,
    Role,
    ServiceName,
    Settings,
    check_role,
)
from hub.events.bus import EventBus
from hub.events.relay import Relay
from hub.events.setup import build_bus
from hub.frontends.probes import Readiness, State
from hub.frontends.websocket.endpoint import WEBSOCKET_PATH, WebSocketEndpoint
from hub.observability.logging import AccessLog
from hub.observability.stack import Observability
from hub.parts import Part
from hub.parts.backends import Backends
from hub.parts.gateway import Gateway
from hub.parts.ops import OpsHttp
from hub.policies.setup import Policies
from hub.redisconn import connect as connect_redis
from hub.storage.store import Store

HANDOVER_SECONDS = 0.5
"""How long a backend process keeps serving after reporting NOT_SERVING, for the gateways'
health checks to take it out of their rotation (they need a round trip). Without it, a
replica stopped under 16 concurrent writers had about 5 of 1,600 writes refused (CANCELLED;
tests/parts/test_split.py); with 0.2 s already none."""


class Hub:
    """A hub process of one role (`hub serve`): `await start()`, later `await stop()`."""

    def __init__(
        self,
        settings: Settings,
        *,
        role: Role = "all",
        client_interceptors: Sequence[aio.ClientInterceptor] = (),
        span_exporter: SpanExporter | None = None,
        access_log: AccessLog | None = None,
    ) -> None:
        """Raises `ConfigError` when the settings do not suit `role` (`config.check_role`),
        `api_gateway` names routes or RPCs that do not exist, or the PostgreSQL DSN cannot
        be parsed.
        `client_interceptors` wrap every front end's backend calls (tests count them);
        `span_exporter`: where spans go instead of the configured exporter (tests);
        `access_log`: where access lines go (`configure_logging`'s; default: records of
        the logger `hub.access`)."""
        check_role(settings, role)
        parts = ROLES[role]
        self.settings = settings
        self.role: Role = role
        self._state: State = "starting"
        self.redis = connect_redis(settings.redis)
        """The Redis clients when `redis.url` is set: bus, rate limits and cache live there."""
        self.bus: EventBus = build_bus(settings.events, self.redis)
        """Committed events: the relay publishes, subscriptions read."""
        self.observability: Observability | None = None
        """Metrics, tracing and interceptors; None when `observability.enabled` is false."""
        if settings.observability.enabled:
            self.observability = Observability(
                settings.observability,
                self.bus,
                business=parts.gateway,
                span_exporter=span_exporter,
                access_log=access_log,
            )
        self.backends: Backends | None = None
        """The backend side, in roles that host a backend service."""
        if parts.services:
            self.backends = Backends(
                settings,
                parts.services,
                self.bus,
                self.observability,
                # Without a gateway here, the clients are gateways in other processes.
                handover_seconds=0.0 if parts.gateway else HANDOVER_SECONDS,
            )
        self.gateway: Gateway | None = None
        """The front ends and policies, in roles that run the gateway."""
        self._ops: OpsHttp | None = None
        if parts.gateway:
            self.gateway = Gateway(
                settings,
                self.bus,
                self.observability,
                redis=self.redis,
                targets=self._backend_targets,
                readiness=self.readiness,
                client_interceptors=client_interceptors,
            )
        else:
            self._ops = OpsHttp(settings, self.readiness, self.observability)
        if self.observability is not None:
            self.observability.watch_events(
                None if self.backends is None else self.backends.relay.stats,
                {} if self.gateway is None else {WEBSOCKET_PATH: self.gateway.websocket.stats},
            )
        self._parts: list[Part] = [
            part for part in (self._ops, self.backends, self.gateway) if part is not None
        ]
        self._begun: list[Part] = []

    def _backend_targets(self) -> dict[ServiceName, str]:
        """What the gateway dials: `services.<name>.targets`, else this process's own."""
        hosted = {} if self.backends is None else self.backends.targets
        targets: dict[ServiceName, str] = {}
        for name in SERVICE_NAMES:
            configured = self.settings.service(name).channel_target()
            targets[name] = configured if configured is not None else hosted[name]
        return targets

    def readiness(self) -> Readiness:
        """Whether this process should get traffic (`/readyz`)."""
        backends = {} if self.gateway is None else self.gateway.reachability()
        return Readiness(self._state, backends)

    @property
    def grpc_address(self) -> str:
        """The gRPC front end's bound address (actual port), once started; "" without one."""
        return "" if self.gateway is None else self.gateway.grpc_address

    @property
    def http_address(self) -> str:
        """The HTTP server's bound address (actual port), once started."""
        if self.gateway is not None:
            return self.gateway.http_address
        return "" if self._ops is None else self._ops.http_address

    @property
    def backend_targets(self) -> Mapping[ServiceName, str]:
        """Where each backend service of this process can be dialled, once started."""
        return {} if self.backends is None else self.backends.targets

    @property
    def store(self) -> Store:
        """The store (roles that host a backend service)."""
        return self._backend_side().store

    @property
    def relay(self) -> Relay:
        """The relay from the store's outbox to the bus (roles that host a backend)."""
        return self._backend_side().relay

    @property
    def policies(self) -> Policies:
        """The gateway policies in force (roles that run the gateway)."""
        return self._gateway_side().policies

    @property
    def websocket(self) -> WebSocketEndpoint:
        """The WebSocket endpoint `/ws` (roles that run the gateway)."""
        return self._gateway_side().websocket

    def _backend_side(self) -> Backends:
        if self.backends is None:
            raise LookupError(f"a hub of role {self.role} hosts no backend service")
        return self.backends

    def _gateway_side(self) -> Gateway:
        if self.gateway is None:
            raise LookupError(f"a hub of role {self.role} runs no gateway")
        return self.gateway

    async def start(self) -> None:
        """Connects to Redis (if set) and starts the event bus, then every part, in order.
        On failure, stops whatever had started and re-raises (`ListenError` for an address
        that is taken, `RedisUnavailable` when Redis does not answer)."""
        try:
            if self.redis is not None:
                await self.redis.open()
            await self.bus.start()
            for part in self._parts:
                self._begun.append(part)
                await part.start()
        except BaseException:
            await self.stop(grace=0)
            raise
        self._state = "serving"

    async def stop_backend(self, name: ServiceName) -> None:
        """Stops one backend service at once, as when its process dies in a split
        deployment (for fault drills and tests; `restart_backend` brings it back)."""
        await self._backend_side().stop_backend(name)

    async def restart_backend(self, name: ServiceName) -> None:
        """Starts a stopped backend service again, on the address it had."""
        await self._backend_side().restart_backend(name)

    async def stop(self, grace: float | None = None) -> None:
        """Drains within `grace` seconds (default: the configured grace period): every part
        drains, the bus closes, every part stops (see the module docstring)."""
        budget = self.settings.shutdown.grace_period_seconds if grace is None else grace
        deadline = time.monotonic() + budget
        self._state = "draining"
        begun, self._begun = self._begun[::-1], []
        for part in begun:
            await part.drain()
        await self.bus.close()
        for part in begun:
            await part.stop(deadline)
        if self.observability is not None:
            await self.observability.stop()
        if self.redis is not None:
            await self.redis.close()

    def listening(self) -> dict[str, str]:
        """Each listening address by what listens there, for the start-up log."""
        return {what: address for part in self._parts for what, address in part.listening().items()}
