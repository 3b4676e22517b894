"""`BackendClient` against real grpc servers: reads are retried on UNAVAILABLE (and
CANCELLED), writes never are, and during a full outage the retry budget keeps the attempts
close to one per call (gRFC A6); calls are spread over several replicas (round_robin), a
replica that reports NOT_SERVING or goes away gets none, and reads keep succeeding
meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hub.client import SERVICE_DESCRIPTORS, BackendClient, is_read
from hub.config import Retries, Service
from hub.contracts.user.v1.user_pb2 import (
    CreateUserRequest,
    CreateUserResponse,
    GetUserRequest,
    GetUserResponse,
    User,
)
from hub.health import HealthServicer
from hub.listening import listen, server_options

USERS = "hub.user.v1.UserService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class FlakyUsers:
    """Answers GetUser and CreateUser, failing the first `failures` attempts (-1: all)."""

    failures: int = 0
    attempts: dict[str, int] = field(default_factory=dict)

    async def answer(
        self, method: str, reply: bytes, context: aio.ServicerContext[bytes, bytes]
    ) -> bytes:
        self.attempts[method] = self.attempts.get(method, 0) + 1
        if self.failures != 0:
            self.failures -= 1 if self.failures > 0 else 0
            await context.abort(grpc.StatusCode.UNAVAILABLE, "down for the test")
        return reply

    def handler(self) -> grpc.GenericRpcHandler:
        replies = {
            "GetUser": GetUserResponse(user=User(id="u1")).SerializeToString(),
            "CreateUser": CreateUserResponse(user=User(id="u1")).SerializeToString(),
        }

        def unary(method: str) -> grpc.RpcMethodHandler[bytes, bytes]:
            async def handle(request: bytes, context: aio.ServicerContext[bytes, bytes]) -> bytes:
                return await self.answer(method, replies[method], context)

            return grpc.unary_unary_rpc_method_handler(handle)

        return grpc.method_handlers_generic_handler(
            "hub.user.v1.UserService", {name: unary(name) for name in replies}
        )


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[FlakyUsers, BackendClient]]:
    users = FlakyUsers()
    server = aio.server()
    server.add_generic_rpc_handlers((users.handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    target = f"127.0.0.1:{port}"
    client = BackendClient(
        {"user-service": target, "mindmap-service": target},
        retries=Retries(initial_backoff_seconds=0.01, max_backoff_seconds=0.02),
    )
    try:
        yield users, client
    finally:
        await client.close()
        await server.stop(0)


def test_the_reads_are_the_methods_mapped_to_http_get() -> None:
    reads = {
        method.full_name
        for descriptor in SERVICE_DESCRIPTORS.values()
        for method in descriptor.methods
        if is_read(method)
    }

    assert {
        "hub.user.v1.UserService.GetUser",
        "hub.user.v1.UserService.BatchGetUsers",
        "hub.user.v1.UserService.ListUsers",
        "hub.mindmap.v1.MindmapService.GetMindmap",
        "hub.mindmap.v1.MindmapService.BatchGetMindmaps",
        "hub.mindmap.v1.MindmapService.ListMindmaps",
        "hub.mindmap.v1.MindmapService.BatchListMindmaps",
    } == reads


async def test_a_read_that_fails_with_unavailable_is_retried(
    flaky: tuple[FlakyUsers, BackendClient],
) -> None:
    users, client = flaky
    users.failures = 2

    reply = await client.users.GetUser(GetUserRequest(id="u1"))

    assert ("u1", 3) == (reply.user.id, users.attempts["GetUser"])


async def test_a_write_is_never_retried(flaky: tuple[FlakyUsers, BackendClient]) -> None:
    users, client = flaky
    users.failures = 1

    with pytest.raises(aio.AioRpcError) as failed:
        await client.users.CreateUser(CreateUserRequest(user=User(email="a@example.com")))

    assert (grpc.StatusCode.UNAVAILABLE, 1) == (failed.value.code(), users.attempts["CreateUser"])


async def test_during_a_full_outage_the_retry_budget_keeps_attempts_near_one_per_call(
    flaky: tuple[FlakyUsers, BackendClient],
) -> None:
    users, client = flaky
    users.failures = -1

    for _ in range(100):
        with pytest.raises(aio.AioRpcError):
            await client.users.GetUser(GetUserRequest(id="u1"))

    # Tokens start at 10, each failure costs one, no retries at 5 or fewer: about 5 retries.
    assert 100 < users.attempts["GetUser"] <= 110


@dataclass
class Replica:
    """One replica of the user service: answers GetUser with its own name as the user id,
    and reports its health in `grpc.health.v1` like a backend does."""

    name: str
    server: aio.Server
    health: HealthServicer
    address: str

    async def serving(self, serving: bool) -> None:
        status = SERVING if serving else NOT_SERVING
        await self.health.set(USERS, status)


async def _replica(name: str, *, serving: bool = True) -> Replica:
    reply = GetUserResponse(user=User(id=name)).SerializeToString()

    async def get_user(request: bytes, context: aio.ServicerContext[bytes, bytes]) -> bytes:
        return reply

    server = aio.server(options=server_options(1024 * 1024))
    handlers: dict[str, grpc.RpcMethodHandler[bytes, bytes]] = {
        "GetUser": grpc.unary_unary_rpc_method_handler(get_user)
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(USERS, handlers),))
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    address = listen(server, "127.0.0.1:0")
    await server.start()
    replica = Replica(name, server, health, address)
    await replica.serving(serving)
    return replica


@asynccontextmanager
async def _replicas(*serving: bool) -> AsyncIterator[tuple[list[Replica], BackendClient]]:
    """Replicas a, b, ... (each SERVING or not, as given) behind one client."""
    replicas = [await _replica("ab"[index], serving=up) for index, up in enumerate(serving)]
    target = Service(targets=[replica.address for replica in replicas]).channel_target()
    assert target is not None
    client = BackendClient({"user-service": target, "mindmap-service": target})
    try:
        yield replicas, client
    finally:
        await client.close()
        for replica in replicas:
            await replica.server.stop(0)


async def _until_reachable(client: BackendClient, reachable: bool) -> None:
    async with asyncio.timeout(10):
        async for now in client.reachability("user-service"):
            if now is reachable:
                return


async def _served_by(client: BackendClient, calls: int) -> list[str]:
    """Which replica answered each of `calls` reads, in order."""
    request = GetUserRequest(id="u1")
    return [(await client.users.GetUser(request)).user.id for _ in range(calls)]


async def test_calls_are_spread_over_every_replica() -> None:
    """round_robin: with two healthy replicas, both answer."""
    async with _replicas(True, True) as (_, client):
        await _until_reachable(client, True)

        served = await _served_by(client, 50)

    assert {"a", "b"} == set(served)


async def test_a_replica_reporting_not_serving_gets_no_calls() -> None:
    """A replica whose health says NOT_SERVING is never picked (client-side health
    checking: its connection becomes usable only after a SERVING answer)."""
    async with _replicas(True, False) as (_, client):
        await _until_reachable(client, True)

        served = await _served_by(client, 20)

    assert ["a"] * 20 == served


async def test_a_replica_that_turns_not_serving_is_taken_out_until_it_serves_again() -> None:
    """Health is followed, not only checked once: a replica that reports NOT_SERVING while
    connected leaves the rotation; with none left the service is unreachable (calls fail at
    once with UNAVAILABLE); the replica that serves again comes back alone."""
    async with _replicas(True, False) as ((first, second), client):
        await _until_reachable(client, True)
        await first.serving(False)
        await _until_reachable(client, False)

        with pytest.raises(aio.AioRpcError) as refused:
            await client.users.GetUser(GetUserRequest(id="u1"))
        await second.serving(True)
        await _until_reachable(client, True)
        served = await _served_by(client, 20)

    assert grpc.StatusCode.UNAVAILABLE == refused.value.code()
    assert ["b"] * 20 == served


async def test_reads_keep_succeeding_while_a_replica_goes_away_under_load() -> None:
    """A replica shut down in the middle of a stream of concurrent reads costs no read:
    those it refused are retried on the other one, and round_robin stops picking it.
    (A replica killed outright: tests/e2e/test_split.py.)"""
    async with _replicas(True, True) as ((first, _), client):
        await _until_reachable(client, True)
        answered: list[str] = []
        stopped = asyncio.Event()

        async def reader() -> None:
            request = GetUserRequest(id="u1")
            while len(answered) < 600:
                answered.append((await client.users.GetUser(request)).user.id)
                if len(answered) == 200:  # shut down as a backend does (parts/backends.py)
                    await first.health.enter_graceful_shutdown()
                    await first.server.stop(5)
                    stopped.set()

        async with asyncio.TaskGroup() as readers:
            for _ in range(8):
                readers.create_task(reader())

    after = answered[220:]  # the reads still under way when it stopped may have been its
    assert stopped.is_set()
    assert {"b"} == set(after)
    assert len(answered) >= 600
