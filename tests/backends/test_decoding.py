"""Request bytes that do not parse (hub/backends/decoding.py): INVALID_ARGUMENT with details,
where grpc alone would answer UNKNOWN; handlers it cannot wrap pass through untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest

from hub.backends.decoding import MalformedRequests
from hub.contracts.user.v1.user_pb2 import GetUserRequest
from tests.backends.support import error_info, rich_status, violation_fields

NOT_UTF8 = GetUserRequest(id="x").SerializeToString()[:-1] + b"\xff"


async def test_a_string_that_is_not_utf8_is_invalid_argument(channel: grpc.aio.Channel) -> None:
    get_user: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        "/hub.user.v1.UserService/GetUser"
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await get_user(NOT_UTF8)
    assert grpc.StatusCode.INVALID_ARGUMENT == raised.value.code()
    assert ("MALFORMED_REQUEST", "hub") == (
        error_info(raised.value).reason,
        error_info(raised.value).domain,
    )
    assert [""] == violation_fields(raised.value)
    assert grpc.StatusCode.INVALID_ARGUMENT.value[0] == rich_status(raised.value).code


def echo_length(request: GetUserRequest, context: grpc.ServicerContext) -> bytes:
    """A synchronous handler: grpc.aio runs it in its thread pool."""
    return str(len(request.id)).encode()


async def echo_bytes(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    """A handler that takes the raw bytes itself (like a forwarding proxy)."""
    return request[::-1]


@pytest.fixture
async def other_handlers() -> AsyncIterator[grpc.aio.Channel]:
    """A server with the interceptor and handlers it must leave alone."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        server = grpc.aio.server(
            migration_thread_pool=pool,
            interceptors=[MalformedRequests()],
            options=[("grpc.so_reuseport", 0)],
        )
        handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
            "Sync": grpc.unary_unary_rpc_method_handler(
                echo_length, request_deserializer=GetUserRequest.FromString
            ),
            "Bytes": grpc.unary_unary_rpc_method_handler(echo_bytes),
        }
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("t.T", handlers)])
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
        await server.stop(None)


async def test_sync_and_bytes_handlers_pass_untouched(other_handlers: grpc.aio.Channel) -> None:
    sync: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = other_handlers.unary_unary("/t.T/Sync")
    raw: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = other_handlers.unary_unary("/t.T/Bytes")
    assert b"3" == await sync(GetUserRequest(id="abc").SerializeToString())
    assert NOT_UTF8[::-1] == await raw(NOT_UTF8)
