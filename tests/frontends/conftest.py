"""A front end in front of a fake backend, to test properties of the forwarding layer itself.

The fake is a real grpc.aio server that stands in for both backend services: `GetUser`
answers at once and `ListUsers` waits until the call is cancelled; every call records the
metadata and deadline that reached it. It also runs a health service whose statuses the test
sets. Everything else about the backends is tested through a real hub (`running`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from hub.client import SERVICE_DESCRIPTORS, BackendClient
from hub.config import SERVICE_NAMES, ServiceName
from hub.contracts.user.v1 import user_pb2_grpc
from hub.contracts.user.v1.user_pb2 import (
    GetUserRequest,
    GetUserResponse,
    ListUsersRequest,
    ListUsersResponse,
    User,
)
from hub.frontends.grpc import GrpcFrontend
from hub.listening import dial_target, listen, server_options
from hub.testing import Binding

if TYPE_CHECKING:
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
USERS = SERVICE_DESCRIPTORS["user-service"].full_name
MINDMAPS = SERVICE_DESCRIPTORS["mindmap-service"].full_name
WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Seen:
    """What reached the fake backend for one call."""

    method: str
    metadata: Mapping[str, str | bytes]
    time_remaining: float | None


@dataclass
class FakeBackend:
    """The stand-in backend: its server, health servicer, address and what it saw."""

    server: aio.Server
    health: Any  # grpc_health's aio HealthServicer (untyped)
    target: str = ""
    seen: list[Seen] = field(default_factory=list)

    def _record(self, method: str, context: aio.ServicerContext[Any, Any]) -> None:
        metadata = dict(context.invocation_metadata() or ())
        self.seen.append(Seen(method, metadata, context.time_remaining()))

    async def get_user(
        self, request: GetUserRequest, context: aio.ServicerContext[GetUserRequest, GetUserResponse]
    ) -> GetUserResponse:
        self._record("GetUser", context)
        await context.send_initial_metadata((("x-backend-initial", "hello"),))
        context.set_trailing_metadata((("x-backend-trailing", "bye"), ("x-hub-served-by", "fake")))
        return GetUserResponse(user=User(id=request.id, display_name="Fake"))

    async def list_users(
        self,
        request: ListUsersRequest,
        context: aio.ServicerContext[ListUsersRequest, ListUsersResponse],
    ) -> ListUsersResponse:
        self._record("ListUsers", context)
        await asyncio.Event().wait()  # until the call is cancelled
        return ListUsersResponse()


@dataclass(frozen=True)
class Front:
    """A started front end and clients of it."""

    frontend: GrpcFrontend
    users: UserServiceAsyncStub
    health: Any  # grpc_health's HealthStub (untyped)


@dataclass(frozen=True)
class Forwarding:
    """A front end forwarding to the fake backend."""

    backend: FakeBackend
    front: Front


def backend_address(tmp_path: Path, binding: Binding) -> str:
    """Where a backend of the test listens over `binding`."""
    return f"unix:{tmp_path / 'backend.sock'}" if binding == "unix" else "127.0.0.1:0"


@asynccontextmanager
async def fake_backend(address: str) -> AsyncIterator[FakeBackend]:
    """Starts the fake backend on `address`, both services SERVING."""
    backend = FakeBackend(server=aio.server(options=server_options(1 << 20)), health=None)
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "GetUser": grpc.unary_unary_rpc_method_handler(
            backend.get_user,
            request_deserializer=GetUserRequest.FromString,
            response_serializer=GetUserResponse.SerializeToString,
        ),
        "ListUsers": grpc.unary_unary_rpc_method_handler(
            backend.list_users,
            request_deserializer=ListUsersRequest.FromString,
            response_serializer=ListUsersResponse.SerializeToString,
        ),
    }
    backend.server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(USERS, handlers),)
    )
    backend.health = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(backend.health, backend.server)
    backend.target = dial_target(listen(backend.server, address))
    await backend.server.start()
    for service in (USERS, MINDMAPS):
        await backend.health.set(service, SERVING)
    try:
        yield backend
    finally:
        await backend.server.stop(0)


@asynccontextmanager
async def frontend_for(targets: Mapping[ServiceName, str]) -> AsyncIterator[Front]:
    """Starts a front end on 127.0.0.1:0 whose backend client dials `targets`."""
    client = BackendClient(targets)
    frontend = GrpcFrontend(client)
    server = aio.server(options=server_options(1 << 20))
    frontend.add_to_server(server)
    target = dial_target(listen(server, "127.0.0.1:0"))
    await server.start()
    await frontend.start()
    try:
        async with aio.insecure_channel(target) as channel:
            yield Front(
                frontend=frontend,
                users=user_pb2_grpc.UserServiceStub(channel),
                health=health_pb2_grpc.HealthStub(channel),
            )
    finally:
        await frontend.drain()
        await server.stop(0)
        await client.close()


@pytest.fixture
async def forwarding(tmp_path: Path, binding: Binding) -> AsyncIterator[Forwarding]:
    """A front end forwarding both services to one fake backend over `binding`."""
    async with fake_backend(backend_address(tmp_path, binding)) as backend:
        targets = dict.fromkeys(SERVICE_NAMES, backend.target)
        async with frontend_for(targets) as front:
            yield Forwarding(backend=backend, front=front)


async def wait_for_status(health_stub: Any, service: str, status: int) -> None:
    """Returns once the front end reports `status` for `service` (fails after WAIT_SECONDS)."""
    request = health_pb2.HealthCheckRequest(service=service)
    async with asyncio.timeout(WAIT_SECONDS):
        async for reply in health_stub.Watch(request):
            if reply.status == status:
                return
    raise AssertionError(f"health watch of {service!r} ended before status {status}")
