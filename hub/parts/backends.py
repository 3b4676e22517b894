"""`Backends`: the backend side of a hub process (roles `all`, `users`, `mindmaps`).

It owns the store, the relay that moves the store's outbox events to the event bus, and one
grpc.aio server per backend service the role hosts, each with its own `grpc.health.v1`
service (SERVING once the server runs), listening where `services.<name>.listen` says (a unix
socket by default, TCP in a split deployment). Every committed write nudges the relay, which
starts right after the store opens, priming the bus before anything serves.

Draining stops the relay (events committed from then on are published by another replica's
relay, or by this one after a restart: the outbox keeps them). Stopping reports NOT_SERVING;
a backend whose clients are other processes (a split role) then keeps serving for
`handover_seconds`, while the gateways' client-side health checks read the news and take the
replica out of their rotation, so that no call they send meanwhile is refused; then it stops
taking calls, lets running ones finish within what is left of the grace period, and closes
the store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hub.backends.decoding import MalformedRequests
from hub.backends.mindmaps import MindmapService
from hub.backends.users import UserService
from hub.client import SERVICE_DESCRIPTORS
from hub.config import ServiceName, Settings
from hub.contracts.mindmap.v1 import mindmap_pb2_grpc
from hub.contracts.user.v1 import user_pb2_grpc
from hub.events.bus import EventBus
from hub.events.relay import Relay
from hub.health import HealthServicer
from hub.listening import UNIX_PREFIX, dial_target, listen, server_options
from hub.observability.stack import Observability
from hub.storage.setup import build_store
from hub.storage.store import Store


@dataclass
class _BackendServer:
    """One backend service on its own grpc server, with the health service it reports to."""

    name: ServiceName
    server: aio.Server
    health: Any  # grpc_health's aio HealthServicer (untyped)
    bound: str = ""

    @property
    def target(self) -> str:
        """Where a client on this machine dials it."""
        return dial_target(self.bound)


class Backends:
    """The store, the relay and a grpc server per hosted service. A `Part`."""

    def __init__(
        self,
        settings: Settings,
        services: Sequence[ServiceName],
        bus: EventBus,
        observability: Observability | None,
        *,
        handover_seconds: float = 0.0,
    ) -> None:
        """`handover_seconds`: how long to keep serving after reporting NOT_SERVING, for
        clients in other processes to move away (0: the clients are in this process and
        have stopped already)."""
        self._settings = settings
        self._handover_seconds = handover_seconds
        self._services = tuple(services)
        self._observability = observability
        self.store: Store = build_store(settings, on_commit=self._committed)
        """The store `storage.engine` names (`hub.storage.setup`)."""
        events = settings.events
        self.relay = Relay(
            self.store,
            bus,
            retention_count=events.retention_count,
            poll_interval=events.poll_interval_ms / 1000,
        )
        self._servers: list[_BackendServer] = []
        self._store_open = False

    def _committed(self, event_id: int) -> None:
        """After each committed write: the relay moves its event to the bus at once."""
        self.relay.committed(event_id)

    @property
    def targets(self) -> dict[ServiceName, str]:
        """Where a client on this machine dials each hosted service, once started."""
        return {backend.name: backend.target for backend in self._servers}

    async def start(self) -> None:
        settings = self._settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        self._store_open = True
        await self.relay.start()
        for name in self._services:
            backend = self._build(name)
            self._servers.append(backend)
            await self._serve(backend, settings.service_listen(name))

    async def _serve(self, backend: _BackendServer, address: str) -> None:
        backend.bound = listen(backend.server, address)
        await backend.server.start()
        await backend.health.set(
            SERVICE_DESCRIPTORS[backend.name].full_name, health_pb2.HealthCheckResponse.SERVING
        )

    def _build(self, name: ServiceName) -> _BackendServer:
        interceptors: list[aio.ServerInterceptor] = [MalformedRequests()]
        if self._observability is not None:
            # First in line: it sees every call.
            interceptors.insert(0, self._observability.server_interceptor("backend"))
        service = self._settings.service(name)
        age = service.max_connection_age_seconds
        if self._settings.service_listen(name).startswith(UNIX_PREFIX):
            # One client process on this machine and no name to resolve again: ageing its
            # connection would only blink the gateway's health while it reconnects.
            age = None
        server = aio.server(
            interceptors=interceptors,
            options=server_options(
                self._settings.grpc.max_message_bytes,
                None if age is None else (age, service.max_connection_age_grace_seconds),
            ),
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

    async def stop_backend(self, name: ServiceName) -> None:
        """Stops one backend service at once, as when its process dies in a split
        deployment (for fault drills and tests; `restart_backend` brings it back)."""
        await self._server(name).server.stop(0)

    async def restart_backend(self, name: ServiceName) -> None:
        """Starts a stopped backend service again, on the address it had."""
        old = self._server(name)
        backend = self._build(name)
        self._servers[self._servers.index(old)] = backend
        await self._serve(backend, old.bound)

    def _server(self, name: ServiceName) -> _BackendServer:
        return next(backend for backend in self._servers if backend.name == name)

    async def drain(self) -> None:
        await self.relay.stop()

    async def stop(self, deadline: float) -> None:
        for backend in self._servers:
            await backend.health.enter_graceful_shutdown()
        if self._servers and self._handover_seconds > 0:
            await asyncio.sleep(min(self._handover_seconds, deadline - time.monotonic()))
        remaining = max(0.0, deadline - time.monotonic())
        await asyncio.gather(*(backend.server.stop(remaining) for backend in self._servers))
        self._servers = []
        if self._store_open:
            await self.store.close()
            self._store_open = False

    def listening(self) -> dict[str, str]:
        return {
            f"{backend.name} ({SERVICE_DESCRIPTORS[backend.name].full_name})": backend.bound
            for backend in self._servers
        }
