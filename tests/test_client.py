"""`BackendClient` against a real grpc server that fails on purpose: reads are retried on
UNAVAILABLE, writes never are, and during a full outage the retry budget keeps the attempts
close to one per call (gRFC A6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest
from grpc import aio

from hub.client import SERVICE_DESCRIPTORS, BackendClient, is_read
from hub.config import Retries
from hub.contracts.user.v1.user_pb2 import (
    CreateUserRequest,
    CreateUserResponse,
    GetUserRequest,
    GetUserResponse,
    User,
)


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
